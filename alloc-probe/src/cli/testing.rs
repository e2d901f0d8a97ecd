//! Small hand-made reports for the subcommands' unit tests.

use crate::report::names::short_fn;
use crate::report::{FunctionReport, Report, SiteReport};

/// An empty full-mode report: the merge of no reports, named.
pub fn report() -> Report {
    Report {
        binary: "demo".into(),
        pid: 42,
        stack_limit: 4096,
        elapsed_ns: 1_000_000,
        ..Report::merge(&[]).expect("nothing to add")
    }
}

/// A site whose blocks all escaped.
pub fn site(file: &str, line: u32, function: &str, allocs: u64, bytes: u64) -> SiteReport {
    SiteReport {
        file: file.into(),
        line,
        function: function.into(),
        allocs,
        bytes,
        escaped: allocs,
        verdict_kind: "escapes".into(),
        verdict: format!(
            "escapes (outlives {}: freed after it returned 100%)",
            short_fn(function)
        ),
        ..SiteReport::default()
    }
}

/// A tracked function with no callees and all blocks escaped.
pub fn function(path: &str, calls: u64, allocs: u64, bytes: u64) -> FunctionReport {
    FunctionReport {
        name: short_fn(path),
        path: path.into(),
        file: "src/lib.rs".into(),
        line: 1,
        calls,
        allocs,
        bytes,
        escaped: allocs,
        inclusive_allocs: allocs,
        inclusive_bytes: bytes,
        allocs_per_call: allocs as f64 / calls as f64,
        bytes_per_call: bytes as f64 / calls as f64,
        ..FunctionReport::default()
    }
}
