//! The JSON report: [`Report`] as serde writes it, with a schema name and version so readers
//! can refuse what they do not understand.

use std::io::Write;
use std::path::Path;

use serde::Deserialize;

use super::model::{FrameReport, Report, StackReport, SCHEMA, SCHEMA_VERSION};

impl Report {
    /// Writes the JSON report (schema [`SCHEMA`], version [`SCHEMA_VERSION`]).
    pub fn write_json(&self, path: impl AsRef<Path>) -> std::io::Result<()> {
        write(self, path.as_ref())
    }

    /// Reads a JSON report, with a one-line error naming the problem.
    pub fn read_json(path: impl AsRef<Path>) -> Result<Report, String> {
        read(path.as_ref())
    }
}

fn write(r: &Report, path: &Path) -> std::io::Result<()> {
    let _ignore = crate::sys::guard::Ignore::new();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    serde_json::to_writer(&mut f, r)?;
    f.write_all(b"\n")?;
    f.flush()
}

fn read(path: &Path) -> Result<Report, String> {
    let name = path.display();
    let text = std::fs::read(path).map_err(|e| format!("{name}: cannot read: {e}"))?;
    if text.iter().all(u8::is_ascii_whitespace) {
        return Err(format!("{name}: empty file, not an alloc-probe report"));
    }
    let mut value: serde_json::Value = serde_json::from_slice(&text).map_err(|e| {
        if e.is_eof() {
            format!("{name}: truncated JSON ({e})")
        } else {
            format!("{name}: not valid JSON ({e})")
        }
    })?;
    if value.get("schema").and_then(|s| s.as_str()) != Some(SCHEMA) {
        return Err(format!(
            "{name}: not an alloc-probe report (no \"schema\": \"{SCHEMA}\")"
        ));
    }
    let version = match value.get("version").and_then(|v| v.as_u64()) {
        Some(v) if v > u64::from(SCHEMA_VERSION) => {
            return Err(format!(
                "{name}: report schema version {v} is newer than this alloc-probe reads ({SCHEMA_VERSION}); upgrade alloc-probe"
            ))
        }
        Some(v) => v,
        None => return Err(format!("{name}: report has no schema version")),
    };
    if version < 2 {
        let stacks = value
            .get_mut("stacks")
            .map(|s| std::mem::replace(s, serde_json::Value::Array(Vec::new())))
            .unwrap_or_default();
        let stacks: Vec<V1Stack> = serde_json::from_value(stacks)
            .map_err(|e| format!("{name}: malformed report: stacks: {e}"))?;
        let mut r: Report =
            serde_json::from_value(value).map_err(|e| format!("{name}: malformed report: {e}"))?;
        r.set_stacks(stacks.into_iter().map(V1Stack::into_parts).collect());
        return Ok(r);
    }
    serde_json::from_value(value).map_err(|e| format!("{name}: malformed report: {e}"))
}

/// A stack as version 1 wrote it: an object, with its frames in full.
#[derive(Deserialize)]
struct V1Stack {
    frames: Vec<FrameReport>,
    site: usize,
    allocs: u64,
    bytes: u64,
    live: u64,
    live_bytes: u64,
    stack_avoidable: u64,
    escaped: u64,
    total_lifetime_ns: u64,
    max_bytes: u64,
    max_blocks: u64,
    gmax_bytes: u64,
    gmax_blocks: u64,
}

impl V1Stack {
    fn into_parts(self) -> (Vec<FrameReport>, StackReport) {
        let stack = StackReport {
            node: 0,
            site: self.site,
            allocs: self.allocs,
            bytes: self.bytes,
            live: self.live,
            live_bytes: self.live_bytes,
            stack_avoidable: self.stack_avoidable,
            escaped: self.escaped,
            total_lifetime_ns: self.total_lifetime_ns,
            max_bytes: self.max_bytes,
            max_blocks: self.max_blocks,
            gmax_bytes: self.gmax_bytes,
            gmax_blocks: self.gmax_blocks,
        };
        (self.frames, stack)
    }
}
