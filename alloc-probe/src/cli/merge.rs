//! `alloc-probe merge`: one report from the reports of several processes (each test binary
//! writes its own), through [`Report::merge`].

use std::path::{Path, PathBuf};

use crate::report::{MergeOverflow, Report};

use crate::report::units::{thousands, Bytes};

/// Merges `reports`, read from `files`, and writes the result to `out` as JSON; returns the
/// line to print.
pub fn run(files: &[PathBuf], reports: &[Report], out: &Path) -> Result<String, String> {
    let merged = Report::merge(reports).map_err(|e| overflow(files, &e))?;
    merged
        .write_json(out)
        .map_err(|e| format!("{}: cannot write: {e}", out.display()))?;
    Ok(summary(reports.len(), &merged, out))
}

/// The merge's error, naming the file whose figure overflowed the sum.
pub(super) fn overflow(files: &[PathBuf], e: &MergeOverflow) -> String {
    match files.get(e.report) {
        Some(file) => format!("merging {}: {} overflows", file.display(), e.field),
        None => e.to_string(),
    }
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

    #[test]
    fn an_overflow_names_the_file() {
        let files = [PathBuf::from("a.json"), PathBuf::from("b.json")];
        let e = MergeOverflow {
            report: 1,
            field: "stats.allocs".into(),
        };
        assert_eq!(
            overflow(&files, &e),
            "merging b.json: stats.allocs overflows"
        );
    }
}
