//! `alloc-probe merge`: one report from the reports of several processes (each test binary
//! writes its own), through [`Report::merge`].

use std::path::Path;

use crate::report::Report;

use crate::report::units::{thousands, Bytes};

/// Merges `reports` and writes the result to `out` as JSON; returns the line to print.
pub fn run(reports: &[Report], out: &Path) -> Result<String, String> {
    let merged = Report::merge(reports);
    merged
        .write_json(out)
        .map_err(|e| format!("{}: cannot write: {e}", out.display()))?;
    Ok(summary(reports.len(), &merged, out))
}

fn summary(n: usize, r: &Report, out: &Path) -> String {
    format!(
        "{}: {n} report{} merged: {} allocs, {} allocated, {} sites, {} tracked functions\n",
        out.display(),
        if n == 1 { "" } else { "s" },
        thousands(r.stats.allocs),
        Bytes(r.stats.bytes_allocated),
        r.sites.len(),
        r.functions.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_line() {
        let mut r = crate::cli::testing::report();
        r.stats.allocs = 2_000;
        r.stats.bytes_allocated = 4096;
        assert_eq!(
            summary(2, &r, Path::new("all.json")),
            "all.json: 2 reports merged: 2,000 allocs, 4.0 KiB allocated, 0 sites, 0 tracked functions\n"
        );
    }
}
