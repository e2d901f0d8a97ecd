//! One report from the reports of several processes: each integration-test binary, or
//! nextest's process per test, writes its own, and a profile of the whole suite wants them
//! as one.
//!
//! Counts add up. What cannot be added is documented on [`Report::merge`]: the peak is the
//! largest of the peaks (a lower bound when the processes overlapped in time), and the
//! at-the-peak figures (`gmax_*`) and `peak_ns` are those of the report that had it, so they
//! still describe one moment. Every sum is checked: a count past `u64::MAX` is an error
//! naming the report and the field, since a saturated figure would pass for a measured one.

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;

use super::classify::{verdict, Classes, Evidence};
use super::model::{
    FrameReport, FunctionReport, FunctionSite, Report, SiteReport, StackReport, Tables, TestReport,
    TrackingCost, SCHEMA, SCHEMA_VERSION,
};
use super::names::short_fn;
use crate::counters::Stats;

impl Report {
    /// One report from several processes' reports (e.g. one per test binary).
    ///
    /// Counts, bytes, classes and lifetimes add up; sites merge by (file, line, function),
    /// tracked functions by path (their per-call figures recomputed from the sums, their lines
    /// merged), stacks by frames. What does not add up:
    /// * `stats.peak_live_bytes` is the largest of the peaks: a lower bound of the true peak
    ///   when the processes ran at the same time. `peak_ns` and the at-the-peak figures
    ///   (`gmax_*`) are those of the report with that peak, so they describe one moment.
    /// * `max_bytes`/`max_blocks` of sites and stacks are added: an upper bound, as a site's
    ///   are over its stacks.
    /// * `elapsed_ns` is the longest run; `stack_limit` and `sample_rate` the largest.
    /// * `binary` and `mode` list the distinct values, comma-separated; `pid` is 0.
    ///
    /// Site verdicts are recomputed from the sums; a tracked function's line keeps the verdict
    /// of the report with the most blocks there.
    ///
    /// A sum that does not fit in a `u64` is an error naming the report and the field.
    pub fn merge(reports: &[Report]) -> Result<Report, MergeOverflow> {
        merge(reports)
    }
}

/// A count [`Report::merge`] cannot add: the sum does not fit in a `u64`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeOverflow {
    /// The report whose figure overflowed the sum, as its index in the reports merged.
    pub report: usize,
    /// The figure, as a path in that report's JSON: `stats.allocs`, `sites[3].bytes`.
    pub field: String,
}

impl fmt::Display for MergeOverflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "report {}: {} overflows", self.report, self.field)
    }
}

impl std::error::Error for MergeOverflow {}

/// Adds each named count of `$b` to `$a`'s, or returns the overflowing field's path: that of
/// its record, from `$at` (a closure, called only then), and the field's name.
macro_rules! add {
    ($a:expr, $b:expr, $at:expr, [$($field:ident),+ $(,)?]) => {
        $(
            $a.$field = $a
                .$field
                .checked_add($b.$field)
                .ok_or_else(|| format!("{}.{}", $at(), stringify!($field)))?;
        )+
    };
}

/// A report with nothing in it: the merge of no reports.
pub(crate) fn empty() -> Report {
    Report {
        schema: SCHEMA.to_string(),
        version: SCHEMA_VERSION,
        binary: "merged".to_string(),
        pid: 0,
        mode: "full".to_string(),
        sample_rate: None,
        stack_limit: 0,
        frame_test: true,
        elapsed_ns: 0,
        peak_ns: 0,
        stats: Stats::default(),
        tracking: TrackingCost::default(),
        sites: Vec::new(),
        functions: Vec::new(),
        tests: Vec::new(),
        frames: Vec::new(),
        locations: Vec::new(),
        nodes: Vec::new(),
        stacks: Vec::new(),
    }
}

/// A report of these stacks, each given with its frames (innermost first).
#[cfg(test)]
pub(crate) fn with_stacks(stacks: Vec<(Vec<FrameReport>, StackReport)>) -> Report {
    let mut r = empty();
    r.set_stacks(stacks);
    r
}

pub(super) fn merge(reports: &[Report]) -> Result<Report, MergeOverflow> {
    let _ignore = crate::sys::guard::Ignore::new();
    let Some(peak) = reports
        .iter()
        .enumerate()
        .max_by_key(|(i, r)| (r.stats.peak_live_bytes, std::cmp::Reverse(*i)))
        .map(|(i, _)| i)
    else {
        return Ok(empty());
    };
    let mut out = empty();
    out.binary = distinct(reports.iter().map(|r| r.binary.as_str()));
    out.mode = distinct(reports.iter().map(|r| r.mode.as_str()));
    out.sample_rate = reports.iter().filter_map(|r| r.sample_rate).max();
    out.stack_limit = reports.iter().map(|r| r.stack_limit).max().unwrap_or(0);
    out.frame_test = reports.iter().all(|r| r.frame_test);
    out.elapsed_ns = reports.iter().map(|r| r.elapsed_ns).max().unwrap_or(0);
    out.peak_ns = reports[peak].peak_ns;

    let mut sites = Table::default();
    let mut functions = Table::default();
    let mut stacks = Table::default();
    let mut tests = Table::default();
    let mut tables = Tables::default();
    for (i, r) in reports.iter().enumerate() {
        let at_peak = i == peak;
        let overflow = |field| MergeOverflow { report: i, field };
        add_stats(&mut out.stats, &r.stats).map_err(overflow)?;
        add_tracking(&mut out.tracking, &r.tracking).map_err(overflow)?;
        for (j, s) in r.sites.iter().enumerate() {
            let key = (s.file.clone(), s.line, s.function.clone());
            let at = || format!("sites[{j}]");
            add_site(sites.entry(key, || blank_site(s)), s, at_peak, at).map_err(overflow)?;
        }
        for (j, f) in r.functions.iter().enumerate() {
            let (merged, lines) =
                functions.entry(f.path.clone(), || (blank_function(f), Table::default()));
            add_function(merged, f, || format!("functions[{j}]")).map_err(overflow)?;
            for (k, s) in f.sites.iter().enumerate() {
                let at = || format!("functions[{j}].sites[{k}]");
                add_function_site(lines, s, at).map_err(overflow)?;
            }
        }
        for (j, t) in r.tests.iter().enumerate() {
            let (merged, sites) = tests.entry((t.binary.clone(), t.name.clone()), || {
                let blank = TestReport {
                    binary: t.binary.clone(),
                    name: t.name.clone(),
                    ..TestReport::default()
                };
                (blank, Table::default())
            });
            add_test(merged, t, || format!("tests[{j}]")).map_err(overflow)?;
            for (k, s) in t.sites.iter().enumerate() {
                let key = (s.file.clone(), s.line, s.function.clone());
                let at = || format!("tests[{j}].sites[{k}]");
                add_site(sites.entry(key, || blank_site(s)), s, at_peak, at).map_err(overflow)?;
            }
        }
        let nodes = import(&mut tables, r);
        for (j, s) in r.stacks.iter().enumerate() {
            let node = s
                .node
                .checked_sub(1)
                .and_then(|i| nodes.get(i as usize))
                .map_or(0, |&n| n);
            let merged = stacks.entry(node, || blank_stack(s, node));
            add_stack(merged, s, at_peak, || format!("stacks[{j}]")).map_err(overflow)?;
        }
    }
    // A ratio for the table: in floating point, where the sum cannot overflow.
    let t = &out.tracking;
    let live = t.header_bytes as f64 + t.stack_bytes as f64 + t.side_bytes as f64;
    out.tracking.bytes_per_live_block = live / out.stats.live_blocks.max(1) as f64;

    out.sites = finish_sites(sites.rows, &out);

    out.functions = functions
        .rows
        .into_iter()
        .map(|(mut f, lines)| {
            f.sites = finish_function_sites(lines);
            per_call(&mut f);
            f
        })
        .collect();
    out.functions
        .sort_by_key(|f| std::cmp::Reverse(f.inclusive_allocs));

    out.tests = tests
        .rows
        .into_iter()
        .map(|(mut t, sites)| {
            t.sites = finish_sites(sites.rows, &out);
            t
        })
        .collect();
    out.tests.sort_by(|a, b| {
        b.allocs
            .cmp(&a.allocs)
            .then_with(|| (&a.binary, &a.name).cmp(&(&b.binary, &b.name)))
    });

    out.frames = tables.frames;
    out.locations = tables.locations;
    out.nodes = tables.nodes;
    out.stacks = stacks.rows;
    out.stacks
        .sort_by(|a, b| b.allocs.cmp(&a.allocs).then(b.bytes.cmp(&a.bytes)));
    Ok(out)
}

/// Sites with their verdicts recomputed from the sums, most blocks first.
fn finish_sites(mut sites: Vec<SiteReport>, out: &Report) -> Vec<SiteReport> {
    for s in &mut sites {
        let (func, call, host) = (
            short_fn(&s.function),
            s.tracked_call.as_deref().map(short_fn),
            s.inlined_into.as_deref().map(short_fn),
        );
        let evidence = Evidence {
            func: &func,
            call: call.as_deref(),
            host: host.as_deref(),
        };
        let v = verdict(&classes(s), &evidence, out.stack_limit, out.frame_test);
        s.verdict_kind = v.kind.to_string();
        s.verdict = v.text;
    }
    sites.sort_by(|a, b| b.allocs.cmp(&a.allocs).then(b.bytes.cmp(&a.bytes)));
    sites
}

/// Adds test `b`'s figures to `a`'s: a test run twice (a retry) counts twice.
fn add_test(a: &mut TestReport, b: &TestReport, at: impl Fn() -> String) -> Result<(), String> {
    add!(a, b, at, [allocs, bytes, leaked, leaked_bytes]);
    a.max_live_bytes = a.max_live_bytes.max(b.max_live_bytes);
    Ok(())
}

/// Rows keyed by identity, in the order first seen, so ties keep a stable order.
struct Table<K, V> {
    index: HashMap<K, usize>,
    rows: Vec<V>,
}

impl<K, V> Default for Table<K, V> {
    fn default() -> Self {
        Table {
            index: HashMap::new(),
            rows: Vec::new(),
        }
    }
}

impl<K: Hash + Eq, V> Table<K, V> {
    fn entry(&mut self, key: K, new: impl FnOnce() -> V) -> &mut V {
        let rows = &mut self.rows;
        let at = *self.index.entry(key).or_insert_with(|| {
            rows.push(new());
            rows.len() - 1
        });
        &mut self.rows[at]
    }
}

/// The distinct names, in order, comma-separated; "merged" when there are none.
fn distinct<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for n in names {
        if !seen.contains(&n) {
            seen.push(n);
        }
    }
    if seen.is_empty() {
        "merged".to_string()
    } else {
        seen.join(",")
    }
}

fn add_stats(a: &mut Stats, b: &Stats) -> Result<(), String> {
    let at = || "stats";
    add!(
        a,
        b,
        at,
        [
            allocs,
            deallocs,
            reallocs,
            bytes_allocated,
            bytes_deallocated,
            live_blocks,
            live_bytes,
            failed,
        ]
    );
    a.peak_live_bytes = a.peak_live_bytes.max(b.peak_live_bytes);
    Ok(())
}

fn add_tracking(a: &mut TrackingCost, b: &TrackingCost) -> Result<(), String> {
    let at = || "tracking";
    add!(
        a,
        b,
        at,
        [
            header_bytes,
            stack_bytes,
            stacks,
            unsited_blocks,
            unsited_bytes,
            side_bytes
        ]
    );
    Ok(())
}

/// The smaller non-zero size (0 means "no block seen").
fn min_size(a: u64, b: u64) -> u64 {
    match (a, b) {
        (0, b) => b,
        (a, 0) => a,
        (a, b) => a.min(b),
    }
}

fn blank_site(s: &SiteReport) -> SiteReport {
    SiteReport {
        file: s.file.clone(),
        line: s.line,
        function: s.function.clone(),
        runtime: s.runtime,
        line_of_function: s.line_of_function,
        ..SiteReport::default()
    }
}

fn add_site(
    a: &mut SiteReport,
    b: &SiteReport,
    at_peak: bool,
    at: impl Fn() -> String,
) -> Result<(), String> {
    add!(a, b, at, [allocs, bytes, reallocs, non_escaping, in_call]);
    a.runtime &= b.runtime;
    a.line_of_function |= b.line_of_function;
    if a.tracked_call.is_none() {
        a.tracked_call.clone_from(&b.tracked_call);
    }
    if a.inlined_into.is_none() {
        a.inlined_into.clone_from(&b.inlined_into);
    }
    add!(
        a,
        b,
        at,
        [
            stack_avoidable,
            escaped,
            temporary,
            leaked,
            leaked_bytes,
            grown,
            freed_elsewhere,
            total_lifetime_ns,
            // Added, as a site's are over its stacks: an upper bound of the true maximum.
            max_bytes,
            max_blocks,
        ]
    );
    a.min_size = min_size(a.min_size, b.min_size);
    a.max_size = a.max_size.max(b.max_size);
    if at_peak {
        add!(a, b, at, [gmax_bytes, gmax_blocks]);
    }
    Ok(())
}

/// A merged site's figures as the verdict reads them.
fn classes(s: &SiteReport) -> Classes {
    Classes {
        blocks: s.allocs,
        bytes: s.bytes,
        reallocs: s.reallocs,
        grown: s.grown,
        non_escaping: s.non_escaping,
        in_call: s.in_call,
        stack_avoidable: s.stack_avoidable,
        escaped: s.escaped,
        temporary: s.temporary,
        leaked: s.leaked,
        leaked_bytes: s.leaked_bytes,
        freed_elsewhere: s.freed_elsewhere,
        lifetime_ticks: 0,
        gmax_blocks: s.gmax_blocks,
        gmax_bytes: s.gmax_bytes,
        max_blocks: s.max_blocks,
        max_bytes: s.max_bytes,
        min_size: s.min_size,
        max_size: s.max_size,
    }
}

fn blank_function(f: &FunctionReport) -> FunctionReport {
    FunctionReport {
        name: f.name.clone(),
        path: f.path.clone(),
        file: f.file.clone(),
        line: f.line,
        max_allocs: f.max_allocs,
        max_bytes: f.max_bytes,
        ..FunctionReport::default()
    }
}

/// Adds `b`'s counts; `ns_per_call` holds total nanoseconds until [`per_call`].
fn add_function(
    a: &mut FunctionReport,
    b: &FunctionReport,
    at: impl Fn() -> String,
) -> Result<(), String> {
    add!(
        a,
        b,
        at,
        [
            calls,
            in_flight,
            allocs,
            bytes,
            reallocs,
            non_escaping,
            stack_avoidable,
            escaped,
            inclusive_allocs,
            inclusive_reallocs,
            inclusive_bytes,
        ]
    );
    a.max_live_bytes = a.max_live_bytes.max(b.max_live_bytes);
    a.ns_per_call += b.ns_per_call * b.calls as f64;
    Ok(())
}

/// The per-call figures from the summed counts.
fn per_call(f: &mut FunctionReport) {
    let calls = f.calls.max(1) as f64;
    f.allocs_per_call = (f.inclusive_allocs as f64 + f.inclusive_reallocs as f64) / calls;
    f.bytes_per_call = f.inclusive_bytes as f64 / calls;
    f.ns_per_call /= calls;
}

/// A tracked function's lines by (file, line, function), each with the most blocks one report
/// had there.
type FunctionSites = Table<(String, u32, String), (FunctionSite, u64)>;

/// Adds line `s` of a tracked function. A line's verdict needs figures `FunctionSite` does not
/// keep, so it is that of the report with the most blocks there.
fn add_function_site(
    table: &mut FunctionSites,
    s: &FunctionSite,
    at: impl Fn() -> String,
) -> Result<(), String> {
    let key = (s.file.clone(), s.line, s.function.clone());
    let (a, most) = table.entry(key, || {
        let blank = FunctionSite {
            file: s.file.clone(),
            line: s.line,
            function: s.function.clone(),
            ..FunctionSite::default()
        };
        (blank, 0)
    });
    add!(
        a,
        s,
        at,
        [
            allocs,
            bytes,
            reallocs,
            non_escaping,
            stack_avoidable,
            escaped,
            temporary,
        ]
    );
    if a.verdict.is_empty() || s.allocs > *most {
        *most = s.allocs;
        a.verdict_kind.clone_from(&s.verdict_kind);
        a.verdict.clone_from(&s.verdict);
    }
    if a.expr.is_none() {
        a.expr.clone_from(&s.expr);
    }
    if a.kind.is_none() {
        a.kind.clone_from(&s.kind);
    }
    a.column = a.column.or(s.column);
    Ok(())
}

/// A tracked function's merged lines, most blocks first.
fn finish_function_sites(table: FunctionSites) -> Vec<FunctionSite> {
    let mut sites: Vec<FunctionSite> = table.rows.into_iter().map(|(s, _)| s).collect();
    sites.sort_by(|a, b| b.allocs.cmp(&a.allocs).then(a.line.cmp(&b.line)));
    sites
}

/// Report `r`'s call-tree nodes in the merged tables: for each node, its new node.
fn import(tables: &mut Tables, r: &Report) -> Vec<u32> {
    const TODO: u32 = u32::MAX;
    let unknown = FrameReport {
        function: "[unknown]".into(),
        file: String::new(),
        line: 0,
        inlined: false,
        line_of_function: false,
    };
    let frames: Vec<u32> = r.frames.iter().map(|f| tables.frame(f)).collect();
    let locations: Vec<u32> = r
        .locations
        .iter()
        .map(|l| {
            let ids: Vec<u32> = l
                .iter()
                .map(|&f| match frames.get(f as usize) {
                    Some(&id) => id,
                    None => tables.frame(&unknown),
                })
                .collect();
            tables.location(&ids)
        })
        .collect();
    let mut new = vec![TODO; r.nodes.len()];
    for i in 0..r.nodes.len() {
        // The node's callers not yet imported, innermost first, then each from the root down.
        let mut chain = Vec::new();
        let mut at = Some(i);
        let mut parent = 0;
        while let Some(j) = at {
            if new[j] != TODO {
                parent = new[j];
                break;
            }
            if chain.len() > r.nodes.len() {
                break; // a loop: only a malformed report has one
            }
            chain.push(j);
            at = r.nodes[j]
                .parent
                .checked_sub(1)
                .map(|p| p as usize)
                .filter(|&p| p < r.nodes.len());
        }
        for &j in chain.iter().rev() {
            let location = match locations.get(r.nodes[j].location as usize) {
                Some(&l) => l,
                None => {
                    let f = tables.frame(&unknown);
                    tables.location(&[f])
                }
            };
            parent = tables.node(parent, location);
            new[j] = parent;
        }
    }
    new
}

fn blank_stack(s: &StackReport, node: u32) -> StackReport {
    StackReport {
        node,
        site: s.site,
        ..StackReport::default()
    }
}

fn add_stack(
    a: &mut StackReport,
    b: &StackReport,
    at_peak: bool,
    at: impl Fn() -> String,
) -> Result<(), String> {
    add!(
        a,
        b,
        at,
        [
            allocs,
            bytes,
            live,
            live_bytes,
            stack_avoidable,
            escaped,
            total_lifetime_ns,
            max_bytes,
            max_blocks,
        ]
    );
    if at_peak {
        add!(a, b, at, [gmax_bytes, gmax_blocks]);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(binary: &str, peak: u64, allocs: u64) -> Report {
        let mut r = empty();
        r.binary = binary.into();
        r.pid = 7;
        r.stats.allocs = allocs;
        r.stats.peak_live_bytes = peak;
        r.peak_ns = peak;
        r.sites.push(SiteReport {
            file: "src/x.rs".into(),
            line: 3,
            function: "x::f".into(),
            allocs,
            non_escaping: allocs,
            stack_avoidable: allocs,
            min_size: 8,
            max_size: 8,
            gmax_blocks: 1,
            ..SiteReport::default()
        });
        r.functions.push(FunctionReport {
            path: "x::f".into(),
            calls: 2,
            inclusive_allocs: allocs,
            ns_per_call: 10.0 * allocs as f64,
            ..FunctionReport::default()
        });
        r
    }

    #[test]
    fn sums_counts_and_keeps_the_peak_of_one_report() {
        let m =
            Report::merge(&[report("a", 100, 2), report("b", 300, 4), report("a", 5, 1)]).unwrap();
        assert_eq!((m.binary.as_str(), m.pid), ("a,b", 0));
        assert_eq!(m.stats.allocs, 7);
        assert_eq!((m.stats.peak_live_bytes, m.peak_ns), (300, 300));
        assert_eq!(m.sites.len(), 1);
        assert_eq!((m.sites[0].allocs, m.sites[0].gmax_blocks), (7, 1));
        assert_eq!(m.sites[0].verdict_kind, "stack-avoidable");
        let f = &m.functions[0];
        assert_eq!((f.calls, f.allocs_per_call), (6, 7.0 / 6.0));
        // Means weighted by calls: (20*2 + 40*2 + 10*2) / 6.
        assert!((f.ns_per_call - 140.0 / 6.0).abs() < 1e-9);
    }

    #[test]
    fn no_reports_merge_to_an_empty_one() {
        let m = Report::merge(&[]).unwrap();
        assert_eq!((m.binary.as_str(), m.stacks.len()), ("merged", 0));
    }

    #[test]
    fn a_sum_past_u64_max_names_the_report_and_the_field() {
        let overflow = |report, field: &str| {
            Err(MergeOverflow {
                report,
                field: field.into(),
            })
        };
        let huge = report("b", 1, u64::MAX);
        let merged = Report::merge(&[report("a", 1, 1), huge.clone()]).map(drop);
        assert_eq!(merged, overflow(1, "stats.allocs"));
        assert_eq!(
            overflow(1, "stats.allocs").map_err(|e| e.to_string()),
            Err::<(), _>("report 1: stats.allocs overflows".into())
        );

        let mut a = report("a", 1, 1);
        a.stats.allocs = 0;
        let merged = Report::merge(&[a.clone(), huge.clone()]).map(drop);
        assert_eq!(merged, overflow(1, "sites[0].allocs"));

        a.sites.clear();
        let merged = Report::merge(&[a.clone(), huge.clone()]).map(drop);
        assert_eq!(merged, overflow(1, "functions[0].inclusive_allocs"));

        // Within one report too: two lines of a function that are one line.
        let mut f = a.functions.pop().unwrap();
        let line = FunctionSite {
            file: "src/x.rs".into(),
            line: 4,
            bytes: u64::MAX,
            ..FunctionSite::default()
        };
        f.sites = vec![line.clone(), line];
        let mut b = report("b", 1, 0);
        b.functions = vec![f];
        let merged = Report::merge(&[b]).map(drop);
        assert_eq!(merged, overflow(0, "functions[0].sites[1].bytes"));

        // Largest-of figures do not add.
        let (mut a, mut b) = (report("a", u64::MAX, 1), report("b", u64::MAX, 1));
        a.stack_limit = u64::MAX;
        b.stack_limit = u64::MAX;
        let m = Report::merge(&[a, b]).unwrap();
        assert_eq!(
            (m.stats.peak_live_bytes, m.stack_limit),
            (u64::MAX, u64::MAX)
        );
    }
}
