//! DHAT's JSON format (`dhatFileVersion` 2), for Valgrind's viewer `dh_view.html`.
//!
//! The viewer builds a tree from each program point's frames and refuses a file in which two
//! program points have the same frames, so stacks whose logical frames print alike (they
//! differed only in addresses) are summed into one program point; their `mb`/`mbk` are then
//! added up, an upper bound of the point's true maximum.
//!
//! Frames keep the allocator's own frames, leaf first, as Valgrind shows `malloc` first. Their
//! strings read like Valgrind's, `0x0: function (file:line)`; the address is 0 because report
//! frames carry none (the viewer shows the strings as they are and parses none of them).
//!
//! Times are in microseconds. `tl` sums the lifetimes of freed blocks only: the report has no
//! birth times for the blocks still live at its end.

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::Path;

use serde::Serialize;

use super::model::{FrameReport, Report};

/// Average lifetimes at or below this many microseconds count as short-lived, as in dhat-rs.
const SHORT_LIVED_US: u64 = 500;

impl Report {
    /// Writes a DHAT JSON file, for Valgrind's viewer `dh_view.html`.
    pub fn write_dhat(&self, path: impl AsRef<Path>) -> io::Result<()> {
        write(self, path.as_ref())
    }
}

fn write(r: &Report, path: &Path) -> io::Result<()> {
    let _ignore = crate::sys::guard::Ignore::new();
    let json = dhat(r);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut f = io::BufWriter::new(std::fs::File::create(path)?);
    serde_json::to_writer(&mut f, &json)?;
    f.write_all(b"\n")?;
    f.flush()
}

fn dhat(r: &Report) -> DhatJson {
    let mut ftbl = vec!["[root]".to_string()];
    let mut frame_ids: HashMap<String, usize> = HashMap::new();
    let mut pps: Vec<PpInfoJson> = Vec::new();
    let mut pp_ids: HashMap<Vec<usize>, usize> = HashMap::new();
    // Each report frame's entry in the frame table: frames that print alike share one.
    let entry: Vec<usize> = r
        .frames
        .iter()
        .map(|f| {
            *frame_ids.entry(frame_text(f)).or_insert_with_key(|text| {
                ftbl.push(text.clone());
                ftbl.len() - 1
            })
        })
        .collect();
    for s in &r.stacks {
        let fs: Vec<usize> = r
            .frame_ids_of(s)
            .into_iter()
            .map(|f| entry.get(f as usize).copied().unwrap_or(0))
            .collect();
        let at = *pp_ids.entry(fs.clone()).or_insert_with(|| {
            pps.push(PpInfoJson {
                fs,
                ..PpInfoJson::default()
            });
            pps.len() - 1
        });
        let pp = &mut pps[at];
        pp.tb += s.bytes;
        pp.tbk += s.allocs;
        pp.tl += s.total_lifetime_ns; // in ns until the end
        pp.mb += s.max_bytes;
        pp.mbk += s.max_blocks;
        pp.gb += s.gmax_bytes;
        pp.gbk += s.gmax_blocks;
        pp.eb += s.live_bytes;
        pp.ebk += s.live;
    }
    for pp in &mut pps {
        pp.tl /= 1000;
    }
    DhatJson {
        dhat_file_version: 2,
        mode: "rust-heap",
        verb: "Allocated",
        bklt: true,
        bkacc: false,
        bu: "byte",
        bsu: "bytes",
        bksu: "blocks",
        tu: "µs",
        mtu: "s",
        tuth: SHORT_LIVED_US,
        cmd: r.binary.clone(),
        pid: r.pid,
        te: r.elapsed_ns / 1000,
        tg: r.peak_ns / 1000,
        pps,
        ftbl,
    }
}

/// `0x0: function (file:line)`, or `0x0: function` when the file is unknown.
fn frame_text(f: &FrameReport) -> String {
    if f.file.is_empty() {
        format!("0x0: {}", f.function)
    } else {
        format!("0x0: {} ({}:{})", f.function, f.file, f.line)
    }
}

/// The top level of a DHAT file, with the format's field names.
#[derive(Serialize)]
struct DhatJson {
    #[serde(rename = "dhatFileVersion")]
    dhat_file_version: u32,
    mode: &'static str,
    verb: &'static str,
    /// Block lifetimes (and `tl`, `mb`, `gb`, `eb`, ...) are present.
    bklt: bool,
    /// Access counts are not.
    bkacc: bool,
    bu: &'static str,
    bsu: &'static str,
    bksu: &'static str,
    tu: &'static str,
    #[serde(rename = "Mtu")]
    mtu: &'static str,
    tuth: u64,
    cmd: String,
    pid: u32,
    te: u64,
    tg: u64,
    pps: Vec<PpInfoJson>,
    ftbl: Vec<String>,
}

/// One program point: a unique stack and its figures.
#[derive(Default, Serialize)]
struct PpInfoJson {
    tb: u64,
    tbk: u64,
    tl: u64,
    mb: u64,
    mbk: u64,
    gb: u64,
    gbk: u64,
    eb: u64,
    ebk: u64,
    fs: Vec<usize>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::StackReport;

    #[test]
    fn stacks_that_print_alike_become_one_program_point() {
        // Two frames that differ only in what the viewer is not shown.
        let frames = |inlined| {
            vec![FrameReport {
                function: "x::f".into(),
                file: "src/x.rs".into(),
                line: 3,
                inlined,
                line_of_function: false,
            }]
        };
        let stack = |allocs| StackReport {
            node: 0,
            site: 0,
            allocs,
            bytes: allocs * 8,
            live: 1,
            live_bytes: 8,
            stack_avoidable: 0,
            escaped: 0,
            total_lifetime_ns: 2000,
            max_bytes: 8,
            max_blocks: 1,
            gmax_bytes: 0,
            gmax_blocks: 0,
        };
        let r = crate::report::merge::with_stacks(vec![
            (frames(false), stack(2)),
            (frames(true), stack(3)),
        ]);
        assert_eq!(r.nodes.len(), 2);
        let d = dhat(&r);
        assert_eq!(d.ftbl, ["[root]", "0x0: x::f (src/x.rs:3)"]);
        assert_eq!(d.pps.len(), 1);
        assert_eq!((d.pps[0].tbk, d.pps[0].tb, d.pps[0].tl), (5, 40, 4));
        assert_eq!(d.pps[0].fs, [1]);
    }
}
