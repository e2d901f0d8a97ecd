//! Baselines that ratchet: a small, sorted TOML file, committed with the code, of each
//! tracked function's allocs/call and bytes/call and each test's allocations. A run whose
//! figures grew past the allowed increase fails, one line per offender; `--bless` rewrites the
//! file from the run, so improvements become the new bar.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::diff::Threshold;
use super::table::{bytes_f, change, number};
use crate::report::Report;

/// The file's contents.
#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    /// By the function's full path.
    #[serde(default)]
    pub functions: BTreeMap<String, PerCall>,
    /// By test binary, then by test name.
    #[serde(default)]
    pub tests: BTreeMap<String, BTreeMap<String, PerTest>>,
}

/// A tracked function's figures per call, callees included (rounded to 3 decimals).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerCall {
    /// Allocation events (allocs + reallocs) per call.
    pub allocs_per_call: f64,
    /// Bytes per call.
    pub bytes_per_call: f64,
}

/// A test's allocations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerTest {
    /// Blocks born in it.
    pub allocs: u64,
    /// Bytes allocated in it.
    pub bytes: u64,
}

/// What a comparison found.
#[derive(Debug, Default)]
pub struct Check {
    /// One line per figure that grew past the limit.
    pub failures: Vec<String>,
    /// Functions and tests the baseline lacks, and figures that went down.
    pub notes: Vec<String>,
}

/// A figure: its name, its baseline and new values, and how to print one.
type Figure<'a> = (&'a str, f64, f64, fn(f64) -> String);

impl Check {
    /// A failure when one of `what`'s figures grew past `limit`, else a note when one went
    /// down.
    fn judge(&mut self, what: &str, figures: &[Figure], limit: Threshold) {
        let over: Vec<String> = figures
            .iter()
            .filter(|(_, b, n, _)| limit.exceeded(*b, *n))
            .map(|(name, b, n, show)| {
                format!("{name} {} → {} ({})", show(*b), show(*n), change(*b, *n))
            })
            .collect();
        if !over.is_empty() {
            self.failures.push(format!(
                "{what}: {}, more than the allowed {limit}",
                over.join(", ")
            ));
        } else if figures.iter().any(|(_, b, n, _)| n < b) {
            self.notes.push(format!(
                "{what} improved: --bless to make it the new baseline"
            ));
        }
    }
}

const HEADER: &str = "\
# alloc-probe baseline: allocations per call of each #[track_allocs] function (callees
# included) and per test. `cargo alloc-probe test --baseline <this file>` fails when a figure
# grows past --max-increase; `--bless` rewrites this file from the run.
";

fn round(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

impl Baseline {
    /// The baseline a report sets.
    pub fn of(r: &Report) -> Baseline {
        let mut b = Baseline::default();
        for f in &r.functions {
            let key = if f.path.is_empty() { &f.name } else { &f.path };
            b.functions.insert(
                key.clone(),
                PerCall {
                    allocs_per_call: round(f.allocs_per_call),
                    bytes_per_call: round(f.bytes_per_call),
                },
            );
        }
        for t in &r.tests {
            b.tests.entry(t.binary.clone()).or_default().insert(
                t.name.clone(),
                PerTest {
                    allocs: t.allocs,
                    bytes: t.bytes,
                },
            );
        }
        b
    }

    /// Reads a baseline file; its errors name the file and the problem in one line.
    pub fn read(path: &Path) -> Result<Baseline, String> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            let hint = if e.kind() == std::io::ErrorKind::NotFound {
                " (run with --bless to create it)"
            } else {
                ""
            };
            format!("{}: cannot read: {e}{hint}", path.display())
        })?;
        let b: Baseline = toml::from_str(&text).map_err(|e| {
            let first = e.to_string();
            let first = first.lines().next().unwrap_or("").to_string();
            format!("{}: not an alloc-probe baseline: {first}", path.display())
        })?;
        let bad = |v: f64| !v.is_finite() || v < 0.0;
        if let Some((name, _)) = b
            .functions
            .iter()
            .find(|(_, f)| bad(f.allocs_per_call) || bad(f.bytes_per_call))
        {
            return Err(format!(
                "{}: function {name}: figures must be finite and not negative",
                path.display()
            ));
        }
        Ok(b)
    }

    /// Writes the file: a comment saying what it is, then the figures, sorted.
    pub fn write(&self, path: &Path) -> Result<(), String> {
        let body = toml::to_string(self).map_err(|e| format!("{}: {e}", path.display()))?;
        std::fs::write(path, format!("{HEADER}\n{body}"))
            .map_err(|e| format!("{}: cannot write: {e}", path.display()))
    }

    /// Compares the run `r` with this baseline.
    pub fn check(&self, r: &Report, limit: Threshold) -> Check {
        let now = Baseline::of(r);
        let mut c = Check::default();
        // A run with no per-test figures at all cannot have met the tests' baseline.
        if now.tests.is_empty() && !self.tests.is_empty() {
            c.failures.push(
                "the run has no per-test figures, but the baseline has tests: were the tests \
                 built without debug info, or the probe not installed in them?"
                    .to_string(),
            );
        }
        for name in self
            .functions
            .keys()
            .filter(|k| !now.functions.contains_key(*k))
        {
            c.notes.push(format!(
                "function {name}: in the baseline, not called in this run"
            ));
        }
        for (binary, tests) in &self.tests {
            for name in tests.keys() {
                if now.tests.get(binary).is_none_or(|t| !t.contains_key(name)) {
                    c.notes
                        .push(format!("test {binary} {name}: in the baseline, not run"));
                }
            }
        }
        for (name, n) in &now.functions {
            let Some(b) = self.functions.get(name) else {
                c.notes
                    .push(format!("new function {name}: not in the baseline"));
                continue;
            };
            c.judge(
                &format!("function {name}"),
                &[
                    ("allocs/call", b.allocs_per_call, n.allocs_per_call, number),
                    ("bytes/call", b.bytes_per_call, n.bytes_per_call, bytes_f),
                ],
                limit,
            );
        }
        for (binary, tests) in &now.tests {
            for (name, n) in tests {
                let Some(b) = self.tests.get(binary).and_then(|t| t.get(name)) else {
                    c.notes
                        .push(format!("new test {binary} {name}: not in the baseline"));
                    continue;
                };
                let whole = |v: f64| format!("{v}");
                c.judge(
                    &format!("test {binary} {name}"),
                    &[
                        ("allocs", b.allocs as f64, n.allocs as f64, whole),
                        ("bytes", b.bytes as f64, n.bytes as f64, whole),
                    ],
                    limit,
                );
            }
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::testing::{function, report};
    use crate::report::TestReport;

    fn run(calls: u64, allocs: u64, test_allocs: u64) -> Report {
        let mut r = report();
        r.functions = vec![function("app::parse", calls, allocs, allocs * 16)];
        r.tests = vec![TestReport {
            binary: "it".into(),
            name: "parses".into(),
            allocs: test_allocs,
            bytes: test_allocs * 16,
            ..TestReport::default()
        }];
        r
    }

    #[test]
    fn the_file_is_sorted_toml_that_reads_back() {
        let dir = std::env::temp_dir().join(format!("alloc-probe-baseline-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("allocs.toml");
        let b = Baseline::of(&run(3, 10, 7));
        b.write(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# alloc-probe baseline"), "{text}");
        assert!(
            text.contains("[functions.\"app::parse\"]\nallocs_per_call = 3.333\n"),
            "{text}"
        );
        assert!(
            text.contains("[tests.it.parses]\nallocs = 7\nbytes = 112\n"),
            "{text}"
        );
        assert_eq!(Baseline::read(&path).unwrap(), b);
        std::fs::write(&path, "[functions]\nx = 3\n").unwrap();
        let e = Baseline::read(&path).unwrap_err();
        assert!(
            e.contains("allocs.toml: not an alloc-probe baseline"),
            "{e}"
        );
        assert!(!e.contains('\n'), "{e}");
        std::fs::write(
            &path,
            "[functions.f]\nallocs_per_call = nan\nbytes_per_call = 1.0\n",
        )
        .unwrap();
        let e = Baseline::read(&path).unwrap_err();
        assert!(
            e.ends_with("function f: figures must be finite and not negative"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn growth_fails_and_decline_notes() {
        let base = Baseline::of(&run(10, 40, 100));
        let zero: Threshold = "0%".parse().unwrap();
        assert!(base.check(&run(10, 40, 100), zero).failures.is_empty());
        let c = base.check(&run(10, 41, 101), zero);
        assert_eq!(
            c.failures,
            [
                "function app::parse: allocs/call 4 → 4.1 (+2.5%), bytes/call 64 B → 65.6 B (+2.5%), more than the allowed 0%",
                "test it parses: allocs 100 → 101 (+1.0%), bytes 1600 → 1616 (+1.0%), more than the allowed 0%",
            ]
        );
        assert!(base
            .check(&run(10, 41, 101), "5%".parse().unwrap())
            .failures
            .is_empty());
        let c = base.check(&run(10, 30, 90), zero);
        assert!(c.failures.is_empty());
        assert_eq!(c.notes.len(), 2, "{:?}", c.notes);
    }

    #[test]
    fn what_the_run_lacks_is_said() {
        let base = Baseline::of(&run(10, 40, 100));
        let zero: Threshold = "0%".parse().unwrap();
        let mut r = run(10, 40, 100);
        r.functions.clear();
        r.tests[0].name = "renamed".into();
        let c = base.check(&r, zero);
        assert!(c.failures.is_empty(), "{:?}", c.failures);
        assert!(c
            .notes
            .contains(&"function app::parse: in the baseline, not called in this run".into()));
        assert!(c
            .notes
            .contains(&"test it parses: in the baseline, not run".into()));
        // No per-test figures at all (counts mode, no debug info) is not a pass.
        r.tests.clear();
        assert_eq!(base.check(&r, zero).failures.len(), 1);
    }
}
