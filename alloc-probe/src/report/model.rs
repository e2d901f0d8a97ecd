//! The report's data, as the JSON report writes it: every field's meaning is here (the
//! schema, `docs/formats.md`).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::names;
use crate::counters::Stats;

/// The JSON schema's name and version, written into every report.
pub const SCHEMA: &str = "alloc-probe-report";
/// The version of the JSON schema this build writes and reads.
pub const SCHEMA_VERSION: u32 = 2;

/// Everything the probe knows at one moment. See [`report()`](crate::report()).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// [`SCHEMA_VERSION`] of the writer.
    pub version: u32,
    /// The program's name (its executable's file name).
    pub binary: String,
    /// Its process id.
    pub pid: u32,
    /// `full`, `sampled` or `counts`.
    pub mode: String,
    /// In `sampled` mode, the mean bytes between samples; per-site figures are then estimates.
    pub sample_rate: Option<u64>,
    /// The largest block that counts as stack-avoidable.
    pub stack_limit: u64,
    /// Whether the frame test classed the blocks allocated outside `#[track_allocs]` calls:
    /// false for a program built without frame pointers, where whether such a block was
    /// freed before its function returned is unknown. Those blocks then count as escaped,
    /// and their sites' verdicts say it is unknown.
    #[serde(default = "frame_test_default")]
    pub frame_test: bool,
    /// Nanoseconds since the probe started.
    pub elapsed_ns: u64,
    /// When the process reached its peak of live bytes, in nanoseconds since the start.
    #[serde(default)]
    pub peak_ns: u64,
    /// Exact whole-process counters.
    pub stats: Stats,
    /// Memory the probe itself uses to track blocks.
    pub tracking: TrackingCost,
    /// One entry per call site, most blocks first.
    pub sites: Vec<SiteReport>,
    /// One entry per `#[track_allocs]` function that was called, most allocations first.
    #[serde(default)]
    pub functions: Vec<FunctionReport>,
    /// One entry per test of a libtest harness (`cargo test`, `cargo nextest`) that allocated,
    /// most allocations first: see [`TestReport`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tests: Vec<TestReport>,
    /// The distinct logical frames of the stacks, which `nodes` refer to (DHAT's frame
    /// table, pprof's functions and lines).
    #[serde(default)]
    pub frames: Vec<FrameReport>,
    /// The machine frames of the stacks: each a run of `frames` indices, innermost first,
    /// of calls inlined into the last (pprof's locations).
    #[serde(default)]
    pub locations: Vec<Vec<u32>>,
    /// The call tree the stacks share, one node per machine frame: a stack is a path from a
    /// root to one node.
    #[serde(default)]
    pub nodes: Vec<NodeReport>,
    /// One entry per unique stack, for profiles (pprof, DHAT, flame graphs).
    pub stacks: Vec<StackReport>,
}

/// Reports written before `frame_test` existed had the frame test.
fn frame_test_default() -> bool {
    true
}

/// Memory alloc-probe uses for tracking, beside the program's own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct TrackingCost {
    /// Block headers: 24 bytes per live block in `full` mode (none in the other modes).
    pub header_bytes: u64,
    /// The call tree of the stacks, the program points (one per unique allocation stack)
    /// with their counters, and their indexes.
    pub stack_bytes: u64,
    /// Unique stacks.
    pub stacks: u64,
    /// Blocks counted in the totals without a site, because their stack found no room in the
    /// table (the limit of `ALLOC_PROBE_MAX_STACKS` or `Probe::with_max_stacks` reached, or
    /// no memory), and their bytes. Sites' counts
    /// stay exact for the stacks kept. Estimates in `sampled` mode.
    #[serde(default)]
    pub unsited_blocks: u64,
    /// The bytes of those blocks.
    #[serde(default)]
    pub unsited_bytes: u64,
    /// The side table of over-aligned and sampled blocks.
    pub side_bytes: u64,
    /// All of it divided by the live blocks.
    pub bytes_per_live_block: f64,
}

/// What happened to the blocks allocated at one line of code.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SiteReport {
    /// Source file of the site, the same from any working directory: relative to the Cargo
    /// workspace for the program's own crates, `name-version/...` for registry crates,
    /// `std/src/...` (and `core`, `alloc`) for the standard library.
    pub file: String,
    /// Line of the allocating expression.
    pub line: u32,
    /// The function the line is in (full path, no hash).
    pub function: String,
    /// Blocks born here.
    pub allocs: u64,
    /// Bytes allocated here, each realloc's new size included.
    pub bytes: u64,
    /// Reallocations of blocks born here.
    pub reallocs: u64,
    /// Freed before the allocating function returned (see the README's classes).
    pub non_escaping: u64,
    /// Of those, the blocks matched exactly to the tracked call they were born in; the rest
    /// rest on the frame test.
    #[serde(default)]
    pub in_call: u64,
    /// The tracked function whose calls the `in_call` blocks were born in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracked_call: Option<String>,
    /// The function the site's was inlined into, whose frame the frame test tested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inlined_into: Option<String>,
    /// The line is its function's: the debug info has none for the allocating address.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub line_of_function: bool,
    /// No frame of the site's stacks is the program's own (all are the standard library's,
    /// the test harness's or alloc-probe's): the runtime's allocations, which the tables and
    /// leak lists leave out and the totals keep.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub runtime: bool,
    /// Non-escaping, never grown, and within the stack limit.
    pub stack_avoidable: u64,
    /// Outlived the allocating function (or not freed yet).
    pub escaped: u64,
    /// Freed as the very next allocator event of the thread (heaptrack's temporaries).
    pub temporary: u64,
    /// Still live at the report.
    pub leaked: u64,
    /// Bytes of the leaked blocks.
    pub leaked_bytes: u64,
    /// Blocks a realloc made larger.
    pub grown: u64,
    /// Blocks freed on a thread other than their allocating one.
    pub freed_elsewhere: u64,
    /// Smallest and largest block size.
    pub min_size: u64,
    /// Largest block size.
    pub max_size: u64,
    /// Sum of the lifetimes of freed blocks, in nanoseconds.
    pub total_lifetime_ns: u64,
    /// Most bytes and blocks live at once.
    pub max_bytes: u64,
    /// Most blocks live at once.
    pub max_blocks: u64,
    /// Bytes and blocks live when the process was at its peak (DHAT's t-gmax).
    pub gmax_bytes: u64,
    /// Blocks live at the process's peak.
    pub gmax_blocks: u64,
    /// The verdict's kind: `stack-avoidable`, `reusable-buffer`, `non-escaping`, `leaked`,
    /// `escapes`, `unknown` (built without frame pointers: see [`Report::frame_test`]) or
    /// `mixed`.
    pub verdict_kind: String,
    /// The one-line verdict with its reason.
    pub verdict: String,
}

/// What one `#[track_allocs]` function allocated.
///
/// An allocation belongs to the innermost tracked call running on its thread: `allocs`,
/// `bytes` and `reallocs` are this function's own (exclusive); the `inclusive_*` figures add
/// its callees'. `allocs_per_call` and `bytes_per_call` are inclusive, like Go's `allocs/op`
/// and `B/op`, and like the budgets. Counts are exact in every mode; the classes need the
/// `full` mode (estimates in `sampled`, zero in `counts`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FunctionReport {
    /// The report name (`name = "..."`, or the function's identifier).
    pub name: String,
    /// The function's full path, e.g. `mycrate::parse::Parser::parse_line`.
    pub path: String,
    /// Where it is defined.
    pub file: String,
    /// Line of its signature.
    pub line: u32,
    /// Calls, completed or running.
    pub calls: u64,
    /// Of those, calls that had not returned, with what they allocated until then: running
    /// on the thread that built the report, or on a thread that ended inside them (the one
    /// that called `process::exit`). Calls running on other threads count when they return.
    #[serde(default)]
    pub in_flight: u64,
    /// Blocks allocated while it was the innermost tracked call.
    pub allocs: u64,
    /// Bytes allocated so, reallocs' new sizes included.
    pub bytes: u64,
    /// Reallocations so.
    pub reallocs: u64,
    /// Of its blocks, freed on the same thread before the call that allocated them returned.
    pub non_escaping: u64,
    /// Non-escaping, never grown, within the stack limit.
    pub stack_avoidable: u64,
    /// The rest of its blocks.
    pub escaped: u64,
    /// Blocks allocated during its calls, callees included.
    pub inclusive_allocs: u64,
    /// Reallocations during its calls, callees included.
    pub inclusive_reallocs: u64,
    /// Bytes allocated during its calls, callees included.
    pub inclusive_bytes: u64,
    /// Allocation events (allocs + reallocs) per call, callees included.
    pub allocs_per_call: f64,
    /// Bytes per call, callees included.
    pub bytes_per_call: f64,
    /// The most bytes its thread held live at once within one call, above the call's start.
    pub max_live_bytes: u64,
    /// Wall time per call, in nanoseconds (async calls: time spent in polls), the mean over
    /// a regular sample of one call in 64 (reading the clock costs more than the rest of a
    /// tracked call).
    pub ns_per_call: f64,
    /// Its per-call budgets.
    pub max_allocs: Option<u64>,
    /// Its per-call byte budget.
    pub max_bytes: Option<u64>,
    /// The lines in it that allocated, most blocks first.
    pub sites: Vec<FunctionSite>,
}

/// What one test allocated: the blocks born under its function, on the thread libtest runs it
/// on (its frame is on their stacks), not the harness's own nor those of threads it spawned.
/// Tests running in parallel never mix, in one process (`cargo test`) or in one process each
/// (`cargo nextest`). Needs stacks: `full` mode, or estimates in `sampled`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TestReport {
    /// The test binary, as nextest names it: the package for its library's unit tests,
    /// `package::file` for `tests/file.rs`.
    pub binary: String,
    /// The test's name as libtest prints it: its module path in its crate (`tests::parses`).
    pub name: String,
    /// Blocks born in it.
    pub allocs: u64,
    /// Bytes allocated in it, each realloc's new size included.
    pub bytes: u64,
    /// The most bytes its blocks held live at once, as an upper bound: the sum over its
    /// stacks of each stack's most (equal when its blocks peaked together).
    pub max_live_bytes: u64,
    /// Its blocks still live at the report.
    pub leaked: u64,
    /// Their bytes.
    pub leaked_bytes: u64,
    /// Its sites, as [`Report::sites`] but for its blocks only, most blocks first.
    pub sites: Vec<SiteReport>,
}

/// One allocating line inside a tracked function, joined with the expression the macro found.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FunctionSite {
    /// Source file.
    pub file: String,
    /// Line.
    pub line: u32,
    /// The function the line is in (a closure inside the tracked function shows as such).
    pub function: String,
    /// Blocks born here.
    pub allocs: u64,
    /// Bytes.
    pub bytes: u64,
    /// Reallocs.
    pub reallocs: u64,
    /// Non-escaping blocks.
    pub non_escaping: u64,
    /// Stack-avoidable blocks.
    pub stack_avoidable: u64,
    /// Escaped blocks.
    pub escaped: u64,
    /// Temporaries.
    pub temporary: u64,
    /// Verdict kind, as in [`SiteReport`].
    pub verdict_kind: String,
    /// Verdict with its reason.
    pub verdict: String,
    /// The allocating expression's source text, when the macro's scan found one on this line.
    pub expr: Option<String>,
    /// Its kind (`Box::new`, `format!`, `clone`, ...).
    pub kind: Option<String>,
    /// Its column.
    pub column: Option<u32>,
}

/// One logical frame of a stack.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FrameReport {
    /// Function, full path without hash.
    pub function: String,
    /// Source file ("" if unknown).
    pub file: String,
    /// Line (0 if unknown).
    pub line: u32,
    /// Whether this call was inlined into the next frame (its caller): both ran in one
    /// machine frame. pprof shows such runs as the lines of one location.
    #[serde(default)]
    pub inlined: bool,
    /// Whether `line` is the function's own line, the debug info having none for the
    /// address (line 0, as compilers mark code merged from several lines).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub line_of_function: bool,
}

/// One node of the call tree: a machine frame, called from another node. Written
/// `[parent, location]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "[u32; 2]", into = "[u32; 2]")]
pub struct NodeReport {
    /// The caller's node, as its index in [`Report::nodes`] plus one; 0 for an outermost frame.
    pub parent: u32,
    /// The machine frame, as its index in [`Report::locations`].
    pub location: u32,
}

impl From<[u32; 2]> for NodeReport {
    fn from([parent, location]: [u32; 2]) -> NodeReport {
        NodeReport { parent, location }
    }
}

impl From<NodeReport> for [u32; 2] {
    fn from(n: NodeReport) -> [u32; 2] {
        [n.parent, n.location]
    }
}

/// A unique stack and its figures, for profiles. The JSON writes it as an array of its
/// fields in order (a program has hundreds of thousands of stacks: their names would be most
/// of the file).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "StackRow", into = "StackRow")]
pub struct StackReport {
    /// The stack's innermost frame, as its node's index in [`Report::nodes`] plus one (0 for
    /// an empty stack); its frames are that node's and its callers' ([`Report::frames_of`]),
    /// alloc-probe's own frames removed.
    pub node: u32,
    /// Index in the stack's frames (innermost first) of the site frame.
    pub site: usize,
    /// Blocks born on this stack.
    pub allocs: u64,
    /// Bytes allocated on this stack.
    pub bytes: u64,
    /// Blocks still live, and their bytes.
    pub live: u64,
    /// Bytes of the live blocks.
    pub live_bytes: u64,
    /// Stack-avoidable blocks.
    pub stack_avoidable: u64,
    /// Escaped blocks.
    pub escaped: u64,
    /// Sum of lifetimes, in nanoseconds.
    pub total_lifetime_ns: u64,
    /// Most bytes and blocks live at once.
    pub max_bytes: u64,
    /// Most blocks live at once.
    pub max_blocks: u64,
    /// Bytes and blocks at the process's peak.
    pub gmax_bytes: u64,
    /// Blocks at the process's peak.
    pub gmax_blocks: u64,
}

/// [`StackReport`] as the JSON writes it: its fields in order.
type StackRow = (
    u32,
    usize,
    u64,
    u64,
    u64,
    u64,
    u64,
    u64,
    u64,
    u64,
    u64,
    u64,
    u64,
);

impl From<StackRow> for StackReport {
    fn from(r: StackRow) -> StackReport {
        StackReport {
            node: r.0,
            site: r.1,
            allocs: r.2,
            bytes: r.3,
            live: r.4,
            live_bytes: r.5,
            stack_avoidable: r.6,
            escaped: r.7,
            total_lifetime_ns: r.8,
            max_bytes: r.9,
            max_blocks: r.10,
            gmax_bytes: r.11,
            gmax_blocks: r.12,
        }
    }
}

impl From<StackReport> for StackRow {
    fn from(s: StackReport) -> StackRow {
        (
            s.node,
            s.site,
            s.allocs,
            s.bytes,
            s.live,
            s.live_bytes,
            s.stack_avoidable,
            s.escaped,
            s.total_lifetime_ns,
            s.max_bytes,
            s.max_blocks,
            s.gmax_bytes,
            s.gmax_blocks,
        )
    }
}

impl Report {
    /// Replaces the stacks with these, each given with its frames (innermost first), and
    /// rebuilds the frame table and the call tree from them: to keep some stacks only, or
    /// cut them.
    pub fn set_stacks(&mut self, stacks: Vec<(Vec<FrameReport>, StackReport)>) {
        let mut tables = Tables::default();
        self.stacks = stacks
            .into_iter()
            .map(|(frames, s)| StackReport {
                node: tables.path(frames.iter().rev()),
                ..s
            })
            .collect();
        self.frames = tables.frames;
        self.locations = tables.locations;
        self.nodes = tables.nodes;
    }

    /// A stack's logical frames, innermost first.
    pub fn frames_of(&self, s: &StackReport) -> Vec<&FrameReport> {
        self.frame_ids_of(s)
            .into_iter()
            .filter_map(|i| self.frames.get(i as usize))
            .collect()
    }

    /// A stack's logical frames, innermost first, as indices in [`Report::frames`].
    pub fn frame_ids_of(&self, s: &StackReport) -> Vec<u32> {
        let mut out = Vec::new();
        let mut id = s.node;
        let mut steps = 0;
        while let Some(n) = id.checked_sub(1).and_then(|i| self.nodes.get(i as usize)) {
            steps += 1;
            if steps > self.nodes.len() {
                break; // a loop: only a malformed report has one
            }
            if let Some(l) = self.locations.get(n.location as usize) {
                out.extend_from_slice(l);
            }
            id = n.parent;
        }
        out
    }

    /// The call sites, most blocks first.
    pub fn sites(&self) -> &[SiteReport] {
        &self.sites
    }

    /// The site at `file:line`, where `file` may be any suffix of the recorded path
    /// (`file!()` works).
    pub fn site(&self, file: &str, line: u32) -> Option<&SiteReport> {
        self.sites
            .iter()
            .find(|s| s.line == line && (s.file.ends_with(file) || file.ends_with(&s.file)))
    }

    /// The tracked function with this name: its report name, its identifier, or any
    /// `::`-separated suffix of its full path (`"parse_line"`, `"Parser::parse_line"`,
    /// `"mycrate::parse::Parser::parse_line"`).
    pub fn function(&self, name: &str) -> Option<&FunctionReport> {
        self.functions.iter().find(|f| f.name == name).or_else(|| {
            let want = format!("::{name}");
            self.functions.iter().find(|f| {
                let simple = names::simplify_path(&f.path);
                simple == name
                    || simple.ends_with(&want)
                    || f.path == name
                    || f.path.ends_with(&want)
            })
        })
    }
}

/// Builds a report's frame table, machine frames and call tree, each entry once.
#[derive(Default)]
pub(crate) struct Tables {
    pub frames: Vec<FrameReport>,
    pub locations: Vec<Vec<u32>>,
    pub nodes: Vec<NodeReport>,
    frame_ids: HashMap<FrameReport, u32, Fast>,
    location_ids: HashMap<Vec<u32>, u32, Fast>,
    node_ids: HashMap<NodeReport, u32, Fast>,
}

impl Tables {
    /// The index of frame `f`, added if new.
    pub(crate) fn frame(&mut self, f: &FrameReport) -> u32 {
        if let Some(&i) = self.frame_ids.get(f) {
            return i;
        }
        let i = self.frames.len() as u32;
        self.frames.push(f.clone());
        self.frame_ids.insert(f.clone(), i);
        i
    }

    /// The index of the machine frame of these frames (innermost first), added if new.
    pub(crate) fn location(&mut self, frames: &[u32]) -> u32 {
        if let Some(&i) = self.location_ids.get(frames) {
            return i;
        }
        let i = self.locations.len() as u32;
        self.locations.push(frames.to_vec());
        self.location_ids.insert(frames.to_vec(), i);
        i
    }

    /// The node (index plus one) of machine frame `location` called from node `parent`,
    /// added if new.
    pub(crate) fn node(&mut self, parent: u32, location: u32) -> u32 {
        let n = NodeReport { parent, location };
        *self.node_ids.entry(n).or_insert_with(|| {
            self.nodes.push(n);
            self.nodes.len() as u32
        })
    }

    /// The node of a stack given by its frames, outermost first: a run of frames marked
    /// `inlined` and the frame after it are one machine frame.
    pub(crate) fn path<'a>(
        &mut self,
        outermost_first: impl DoubleEndedIterator<Item = &'a FrameReport>,
    ) -> u32 {
        let ids: Vec<(u32, bool)> = outermost_first
            .map(|f| (self.frame(f), f.inlined))
            .collect();
        let mut node = 0;
        let mut group: Vec<u32> = Vec::new();
        // From the root: a machine frame starts at a frame not inlined, and takes the
        // inlined frames that follow (its callees), innermost last here.
        for (i, &(id, _)) in ids.iter().enumerate() {
            group.push(id);
            let next_inlined = ids.get(i + 1).is_some_and(|&(_, inl)| inl);
            if !next_inlined {
                group.reverse();
                let loc = self.location(&group);
                node = self.node(node, loc);
                group.clear();
            }
        }
        node
    }
}

/// A fast hash for the report's tables (integers and short strings; no untrusted keys that
/// could be chosen to collide matter here).
#[derive(Default, Clone, Copy)]
pub(crate) struct Fast;

impl std::hash::BuildHasher for Fast {
    type Hasher = FastHasher;
    fn build_hasher(&self) -> FastHasher {
        FastHasher(0)
    }
}

/// FxHash's step: multiply and rotate, a word at a time.
pub(crate) struct FastHasher(u64);

impl std::hash::Hasher for FastHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.write_u64(u64::from_le_bytes(c.try_into().unwrap_or_default()));
        }
        for &b in chunks.remainder() {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}
