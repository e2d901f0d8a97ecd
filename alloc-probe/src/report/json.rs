//! The JSON report: [`Report`] as serde writes it, with a schema name and version so readers
//! can refuse what they do not understand.
//!
//! Reading is bounded and checked: a report is tens of MiB, so a larger input (a huge file, a
//! device, a pipe that never ends) is refused at a limit instead of read until memory runs
//! out, and a report whose tables do not hold together is refused by `check`, so what the
//! reader returns can be indexed without a second thought.

use std::fmt;
use std::io::{Read, Write};
use std::path::Path;

use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::error::Category;
use serde_json::Value;

use super::check::check;
use super::model::{FrameReport, Report, StackReport, SCHEMA, SCHEMA_VERSION};
use super::units::Exact;

/// The largest report [`Report::read_json`] reads: far above real ones (190,000 stacks write
/// 15 MB), far below what would exhaust a machine's memory.
pub(crate) const MAX_INPUT: u64 = 512 << 20;

impl Report {
    /// Writes the JSON report (schema [`SCHEMA`], version [`SCHEMA_VERSION`]).
    pub fn write_json(&self, path: impl AsRef<Path>) -> std::io::Result<()> {
        write(self, path.as_ref())
    }

    /// Reads a JSON report of at most 512 MiB, with a one-line error naming the file and the
    /// problem: unreadable, too large, not a report, or a report whose internal references do
    /// not hold (an index past the end of its table, a loop in the call tree, an unknown
    /// mode).
    pub fn read_json(path: impl AsRef<Path>) -> Result<Report, String> {
        read(path.as_ref(), MAX_INPUT, "")
    }

    /// [`Report::read_json`] with another size limit: files of more than `max_bytes` bytes
    /// are refused unread, and a stream is read no further than that.
    pub fn read_json_at_most(path: impl AsRef<Path>, max_bytes: u64) -> Result<Report, String> {
        read(path.as_ref(), max_bytes, "")
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

/// Reads the report at `path`, of at most `limit` bytes; `raise` ends the refusal of a larger
/// one, saying how to raise the limit where there is a way.
pub(crate) fn read(path: &Path, limit: u64, raise: &str) -> Result<Report, String> {
    let name = path.display();
    let text = match bounded(path, limit) {
        Ok(Some(text)) => text,
        Ok(None) => {
            return Err(format!(
                "{name}: larger than the {} limit{raise}",
                Exact(limit)
            ))
        }
        Err(e) => return Err(format!("{name}: cannot read: {e}")),
    };
    if text.iter().all(u8::is_ascii_whitespace) {
        return Err(format!("{name}: empty file, not an alloc-probe report"));
    }
    // The schema and version first, from a pass that keeps nothing else, so that another
    // file gets "not a report" rather than the first field it lacks.
    let head: Head = serde_json::from_slice(&text).map_err(|e| match e.classify() {
        Category::Data => {
            format!("{name}: not an alloc-probe report (no \"schema\": \"{SCHEMA}\")")
        }
        _ => json_error(&name, &e),
    })?;
    if head.schema.as_ref().and_then(Value::as_str) != Some(SCHEMA) {
        return Err(format!(
            "{name}: not an alloc-probe report (no \"schema\": \"{SCHEMA}\")"
        ));
    }
    let version = match head.version.as_ref().and_then(Value::as_u64) {
        Some(v) if v > u64::from(SCHEMA_VERSION) => {
            return Err(format!(
                "{name}: report schema version {v} is newer than this alloc-probe reads ({SCHEMA_VERSION}); upgrade alloc-probe"
            ))
        }
        Some(v) => v,
        None => return Err(format!("{name}: report has no schema version")),
    };
    let r = if version < 2 {
        version_1(text, &name)?
    } else {
        serde_json::from_slice(&text).map_err(|e| json_error(&name, &e))?
    };
    check(&r).map_err(|e| format!("{name}: {e}"))?;
    Ok(r)
}

/// The bytes of `path`, or `None` past `limit`: a regular file is refused by its size unread,
/// and any file (a device, a pipe, a FIFO) is read at most one byte past the limit.
fn bounded(path: &Path, limit: u64) -> std::io::Result<Option<Vec<u8>>> {
    let file = std::fs::File::open(path)?;
    let size = file
        .metadata()
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len());
    if size.is_some_and(|s| s > limit) {
        return Ok(None);
    }
    let mut text = Vec::new();
    if let Some(s) = size.and_then(|s| usize::try_from(s).ok()) {
        // One allocation of the right size rather than doublings; read_to_end reports a
        // failure to grow.
        let _ = text.try_reserve_exact(s.saturating_add(1));
    }
    let mut input = file.take(limit.saturating_add(1));
    // A report starts with `{`: input that starts otherwise (a device of zeros, a binary
    // file) is read no further than its first bytes, which the parser then refuses.
    let mut chunk = [0u8; 4096];
    loop {
        let n = match input.read(&mut chunk) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            r => r?,
        };
        text.extend_from_slice(&chunk[..n]);
        // Only the new bytes: all before them were whitespace.
        match chunk[..n].iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{') => break,
            Some(_) => return Ok(Some(text)),
            None if n == 0 => break,
            None => {}
        }
    }
    input.read_to_end(&mut text)?;
    Ok((text.len() as u64 <= limit).then_some(text))
}

/// A JSON error in one line: cut short, not JSON, or JSON of the wrong shape.
fn json_error(name: &impl fmt::Display, e: &serde_json::Error) -> String {
    match e.classify() {
        Category::Eof => format!("{name}: truncated JSON ({e})"),
        Category::Syntax | Category::Io => format!("{name}: not valid JSON ({e})"),
        Category::Data => format!("{name}: malformed report: {e}"),
    }
}

/// A version 1 report, its stacks' frames moved into the tables of version 2.
fn version_1(text: Vec<u8>, name: &impl fmt::Display) -> Result<Report, String> {
    let mut value: Value = serde_json::from_slice(&text).map_err(|e| json_error(name, &e))?;
    drop(text);
    let stacks = value
        .get_mut("stacks")
        .map(|s| std::mem::replace(s, Value::Array(Vec::new())))
        .unwrap_or_default();
    let stacks: Vec<V1Stack> = serde_json::from_value(stacks)
        .map_err(|e| format!("{name}: malformed report: stacks: {e}"))?;
    let mut r: Report =
        serde_json::from_value(value).map_err(|e| format!("{name}: malformed report: {e}"))?;
    r.set_stacks(stacks.into_iter().map(V1Stack::into_parts).collect());
    Ok(r)
}

/// A report's `schema` and `version`, read without keeping the rest.
#[derive(Default)]
struct Head {
    schema: Option<Value>,
    version: Option<Value>,
}

/// The fields [`Head`] keeps; any other is skipped.
#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "lowercase")]
enum HeadField {
    Schema,
    Version,
    #[serde(other)]
    Other,
}

impl<'de> Deserialize<'de> for Head {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Head, D::Error> {
        d.deserialize_map(HeadVisitor)
    }
}

struct HeadVisitor;

impl<'de> Visitor<'de> for HeadVisitor {
    type Value = Head;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Head, A::Error> {
        // As a JSON object reads: the last of repeated keys wins.
        let mut head = Head::default();
        while let Some(field) = map.next_key()? {
            match field {
                HeadField::Schema => head.schema = Some(map.next_value()?),
                HeadField::Version => head.version = Some(map.next_value()?),
                HeadField::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(head)
    }
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
