//! The pprof profile: gzipped `profile.proto` (package `perftools.profiles`), readable by
//! `go tool pprof`.
//!
//! It is shaped like Go's own heap profiles, so Go users read it the way they read theirs:
//! * sample types `alloc_objects/count`, `alloc_space/bytes`, `inuse_objects/count`,
//!   `inuse_space/bytes`, then ours: `stack_avoidable_objects/count`, `escaped_objects/count`;
//!   `alloc_space` is the default, as in Go's `allocs` profile.
//! * one sample per stack, starting at the stack's site: the allocator's own frames below it
//!   (`alloc::`, `core::`, `std::` internals) are left out, as Go's `writeHeapProto` hides the
//!   leaf `runtime.*` frames. So `-top`'s flat column is the allocating function.
//! * a `bytes` label with the average block size of the sample, as Go's `bytes` label.
//! * period type `space/bytes`. The period is the mean bytes between samples in `sampled`
//!   mode (Go's `MemProfileRate`, 512 KiB by default) and 1 in the exact modes, which is what Go
//!   writes when `runtime.MemProfileRate = 1` records every allocation. Values are already
//!   scaled to estimated totals, as in Go, so pprof never multiplies by the period.
//!
//! Report frames are logical frames; a run of frames inlined into one machine frame becomes
//! one `Location` with a `Line` each (callee first), as Go writes inlined calls. Locations sit
//! under one `Mapping` marked as fully symbolised so pprof never looks for symbols itself.
//!
//! The messages are written by hand with prost's derive macros: only these few are needed,
//! so neither a build script (`prost-build` and `protoc`) nor a crate shipping the whole
//! generated schema is worth its weight.

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use flate2::write::GzEncoder;
use flate2::Compression;
use prost::Message;

use super::model::{FrameReport, Report, StackReport};

/// `(type, unit)` of each sample value, in order.
const SAMPLE_TYPES: [(&str, &str); 6] = [
    ("alloc_objects", "count"),
    ("alloc_space", "bytes"),
    ("inuse_objects", "count"),
    ("inuse_space", "bytes"),
    ("stack_avoidable_objects", "count"),
    ("escaped_objects", "count"),
];

/// The sample type `go tool pprof` shows unless told otherwise (Go's `allocs` profile's).
const DEFAULT_SAMPLE_TYPE: &str = "alloc_space";

impl Report {
    /// Writes a gzipped pprof profile for `go tool pprof` (see this module's notes: Go's heap
    /// profile sample types first, then `stack_avoidable_objects` and `escaped_objects`).
    pub fn write_pprof(&self, path: impl AsRef<Path>) -> io::Result<()> {
        write(self, path.as_ref())
    }
}

fn write(r: &Report, path: &Path) -> io::Result<()> {
    let _ignore = crate::sys::guard::Ignore::new();
    let bytes = profile(r, SystemTime::now()).encode_to_vec();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let file = io::BufWriter::new(std::fs::File::create(path)?);
    let mut gz = GzEncoder::new(file, Compression::default());
    gz.write_all(&bytes)?;
    gz.finish()?.flush()
}

/// The profile of `r`, made at `now`.
fn profile(r: &Report, now: SystemTime) -> Profile {
    let mut b = Builder::default();
    b.str(""); // string_table[0] must be "".
    let sample_type = SAMPLE_TYPES
        .iter()
        .map(|(t, u)| b.value_type(t, u))
        .collect();
    let mapping = vec![Mapping {
        id: MAPPING_ID,
        filename: b.str(&r.binary),
        has_functions: true,
        has_filenames: true,
        has_line_numbers: true,
        has_inline_frames: true,
        ..Mapping::default()
    }];
    let sample = r.stacks.iter().map(|s| b.sample(r, s)).collect();
    let mut comment = vec![
        b.str(&format!("alloc-probe {}", env!("CARGO_PKG_VERSION"))),
        b.str(&format!("mode: {}", r.mode)),
        b.str(&format!("binary: {} (pid {})", r.binary, r.pid)),
    ];
    if let Some(rate) = r.sample_rate {
        let note = format!("sampled every {rate} bytes on average: values are estimates");
        comment.push(b.str(&note));
    }
    let period_type = Some(b.value_type("space", "bytes"));
    let default_sample_type = b.str(DEFAULT_SAMPLE_TYPE);
    let time_nanos = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
    Profile {
        sample_type,
        sample,
        mapping,
        location: b.locations,
        function: b.functions,
        string_table: b.strings,
        time_nanos,
        duration_nanos: int(r.elapsed_ns),
        period_type,
        period: r.sample_rate.map_or(1, int),
        comment,
        default_sample_type,
    }
}

const MAPPING_ID: u64 = 1;

/// Interns strings, functions and locations as samples are added.
#[derive(Default)]
struct Builder {
    strings: Vec<String>,
    string_ids: HashMap<String, i64>,
    functions: Vec<Function>,
    function_ids: HashMap<(String, String), u64>,
    locations: Vec<Location>,
    location_ids: HashMap<Vec<u32>, u64>,
}

impl Builder {
    fn str(&mut self, s: &str) -> i64 {
        if let Some(&id) = self.string_ids.get(s) {
            return id;
        }
        let id = self.strings.len() as i64;
        self.strings.push(s.to_string());
        self.string_ids.insert(s.to_string(), id);
        id
    }

    fn value_type(&mut self, ty: &str, unit: &str) -> ValueType {
        ValueType {
            r#type: self.str(ty),
            unit: self.str(unit),
        }
    }

    fn function(&mut self, f: &FrameReport) -> u64 {
        let key = (f.function.clone(), f.file.clone());
        if let Some(&id) = self.function_ids.get(&key) {
            return id;
        }
        let id = self.functions.len() as u64 + 1;
        let name = self.str(&f.function);
        let filename = self.str(&f.file);
        self.functions.push(Function {
            id,
            name,
            system_name: 0,
            filename,
            start_line: 0,
        });
        self.function_ids.insert(key, id);
        id
    }

    /// The location of one machine frame: `group` is its logical frames, callee first.
    fn location(&mut self, r: &Report, group: &[u32]) -> u64 {
        if let Some(&id) = self.location_ids.get(group) {
            return id;
        }
        let line = group
            .iter()
            .filter_map(|&i| r.frames.get(i as usize))
            .map(|f| Line {
                function_id: self.function(f),
                line: i64::from(f.line),
            })
            .collect();
        let id = self.locations.len() as u64 + 1;
        self.locations.push(Location {
            id,
            mapping_id: MAPPING_ID,
            address: 0,
            line,
            is_folded: false,
        });
        self.location_ids.insert(group.to_vec(), id);
        id
    }

    fn sample(&mut self, r: &Report, s: &StackReport) -> Sample {
        let frames = r.frame_ids_of(s);
        // From the site outwards; a stack without a site frame keeps all of them.
        let from = if s.site < frames.len() { s.site } else { 0 };
        // Split into machine frames: a run of inlined frames ends at the frame they ran in.
        let mut location_id = Vec::new();
        let mut start = from;
        for (i, &f) in frames.iter().enumerate().skip(from) {
            let inlined = r.frames.get(f as usize).is_some_and(|f| f.inlined);
            if !inlined || i + 1 == frames.len() {
                location_id.push(self.location(r, &frames[start..=i]));
                start = i + 1;
            }
        }
        let value = [
            s.allocs,
            s.bytes,
            s.live,
            s.live_bytes,
            s.stack_avoidable,
            s.escaped,
        ]
        .map(int)
        .to_vec();
        let mut label = Vec::new();
        if let Some(average) = s.bytes.checked_div(s.allocs) {
            label.push(Label {
                key: self.str("bytes"),
                num: int(average),
                num_unit: self.str("bytes"),
                ..Label::default()
            });
        }
        Sample {
            location_id,
            value,
            label,
        }
    }
}

/// pprof's values are signed; ours never reach `i64::MAX`, but saturate rather than wrap.
fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

// The messages of profile.proto that we write, with its field numbers.

#[derive(Clone, PartialEq, Message)]
struct Profile {
    #[prost(message, repeated, tag = "1")]
    sample_type: Vec<ValueType>,
    #[prost(message, repeated, tag = "2")]
    sample: Vec<Sample>,
    #[prost(message, repeated, tag = "3")]
    mapping: Vec<Mapping>,
    #[prost(message, repeated, tag = "4")]
    location: Vec<Location>,
    #[prost(message, repeated, tag = "5")]
    function: Vec<Function>,
    #[prost(string, repeated, tag = "6")]
    string_table: Vec<String>,
    #[prost(int64, tag = "9")]
    time_nanos: i64,
    #[prost(int64, tag = "10")]
    duration_nanos: i64,
    #[prost(message, optional, tag = "11")]
    period_type: Option<ValueType>,
    #[prost(int64, tag = "12")]
    period: i64,
    #[prost(int64, repeated, tag = "13")]
    comment: Vec<i64>,
    #[prost(int64, tag = "14")]
    default_sample_type: i64,
}

#[derive(Clone, PartialEq, Message)]
struct ValueType {
    #[prost(int64, tag = "1")]
    r#type: i64,
    #[prost(int64, tag = "2")]
    unit: i64,
}

#[derive(Clone, PartialEq, Message)]
struct Sample {
    /// Leaf first.
    #[prost(uint64, repeated, tag = "1")]
    location_id: Vec<u64>,
    #[prost(int64, repeated, tag = "2")]
    value: Vec<i64>,
    #[prost(message, repeated, tag = "3")]
    label: Vec<Label>,
}

#[derive(Clone, PartialEq, Message)]
struct Label {
    #[prost(int64, tag = "1")]
    key: i64,
    #[prost(int64, tag = "2")]
    str: i64,
    #[prost(int64, tag = "3")]
    num: i64,
    #[prost(int64, tag = "4")]
    num_unit: i64,
}

#[derive(Clone, PartialEq, Message)]
struct Mapping {
    #[prost(uint64, tag = "1")]
    id: u64,
    #[prost(uint64, tag = "2")]
    memory_start: u64,
    #[prost(uint64, tag = "3")]
    memory_limit: u64,
    #[prost(uint64, tag = "4")]
    file_offset: u64,
    #[prost(int64, tag = "5")]
    filename: i64,
    #[prost(int64, tag = "6")]
    build_id: i64,
    #[prost(bool, tag = "7")]
    has_functions: bool,
    #[prost(bool, tag = "8")]
    has_filenames: bool,
    #[prost(bool, tag = "9")]
    has_line_numbers: bool,
    #[prost(bool, tag = "10")]
    has_inline_frames: bool,
}

#[derive(Clone, PartialEq, Message)]
struct Location {
    #[prost(uint64, tag = "1")]
    id: u64,
    #[prost(uint64, tag = "2")]
    mapping_id: u64,
    #[prost(uint64, tag = "3")]
    address: u64,
    /// The callee first; the last line is the function the others were inlined into.
    #[prost(message, repeated, tag = "4")]
    line: Vec<Line>,
    #[prost(bool, tag = "5")]
    is_folded: bool,
}

#[derive(Clone, PartialEq, Message)]
struct Line {
    #[prost(uint64, tag = "1")]
    function_id: u64,
    #[prost(int64, tag = "2")]
    line: i64,
}

#[derive(Clone, PartialEq, Message)]
struct Function {
    #[prost(uint64, tag = "1")]
    id: u64,
    #[prost(int64, tag = "2")]
    name: i64,
    #[prost(int64, tag = "3")]
    system_name: i64,
    #[prost(int64, tag = "4")]
    filename: i64,
    #[prost(int64, tag = "5")]
    start_line: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(function: &str, line: u32) -> FrameReport {
        FrameReport {
            function: function.into(),
            file: "src/x.rs".into(),
            line,
            inlined: false,
            line_of_function: false,
        }
    }

    #[test]
    fn shares_locations_and_starts_at_the_site() {
        let stack = |site_line, allocs, bytes| {
            let frames = vec![
                frame("alloc::alloc::alloc", 1),
                frame("x::site", site_line),
                frame("x::main", 9),
            ];
            let s = StackReport {
                site: 1,
                allocs,
                bytes,
                escaped: allocs,
                ..StackReport::default()
            };
            (frames, s)
        };
        let r = crate::report::merge::with_stacks(vec![stack(3, 2, 64), stack(4, 1, 8)]);
        let p = profile(&r, UNIX_EPOCH);
        assert_eq!(p.string_table[0], "");
        assert_eq!(p.sample.len(), 2);
        assert_eq!(p.sample[0].location_id, [1, 2]);
        assert_eq!(p.sample[1].location_id, [3, 2]);
        assert_eq!(p.location.len(), 3);
        assert_eq!(p.function.len(), 2, "x::site's two lines share a Function");
        assert_eq!(p.sample[0].value, [2, 64, 0, 0, 0, 2]);
        assert_eq!(p.sample[0].label[0].num, 32);
        assert_eq!(p.period, 1);
        let default = &p.string_table[p.default_sample_type as usize];
        assert_eq!(default, "alloc_space");
    }

    #[test]
    fn inlined_frames_are_lines_of_one_location() {
        let mut inlined = frame("x::helper", 5);
        inlined.inlined = true;
        let r = crate::report::merge::with_stacks(vec![(
            vec![inlined, frame("x::caller", 12), frame("x::main", 9)],
            StackReport {
                site: 0,
                allocs: 1,
                bytes: 8,
                escaped: 1,
                ..StackReport::default()
            },
        )]);
        let p = profile(&r, UNIX_EPOCH);
        assert_eq!(p.sample[0].location_id, [1, 2]);
        let lines: Vec<i64> = p.location[0].line.iter().map(|l| l.line).collect();
        assert_eq!(
            lines,
            [5, 12],
            "callee first, then the frame it was inlined into"
        );
        assert_eq!(p.location[1].line.len(), 1);
    }
}
