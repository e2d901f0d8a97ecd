//! `alloc-probe explain`: Go's `-gcflags=-m` view. One line per allocating line of code,
//! `file:line:col: expression verb: class (reason)`, in source order, so an editor or CI log
//! can jump to each.
//!
//! The expression comes from `#[track_allocs]`'s scan of the function body. Lines the runtime
//! saw but the scan did not list (calls into helpers, macros it does not know) are shown all
//! the same: the scan annotates, it never filters.

use std::collections::HashSet;

use crate::report::{FunctionReport, FunctionSite, Report, SiteReport};

use super::table::{bytes_f, number};
use crate::report::names::short_fn;
use crate::report::units::{thousands, Bytes};

/// `explain`'s options.
pub struct Options {
    /// Only this tracked function: a report name or a `::`-suffix of its path, as
    /// [`Report::function`] takes.
    pub function: Option<String>,
}

/// Go's wording for each verdict kind, put before the verdict itself.
fn verb(kind: &str) -> &'static str {
    match kind {
        "stack-avoidable" | "non-escaping" | "reusable-buffer" => "does not escape",
        "escapes" | "leaked" => "escapes",
        "mixed" => "sometimes escapes",
        _ => "allocates",
    }
}

/// One line of source text as one line of output, shortened if very long.
fn one_line(expr: &str) -> String {
    const MAX: usize = 80;
    let flat = expr.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= MAX {
        return flat;
    }
    let mut s: String = flat.chars().take(MAX - 1).collect();
    s.push('…');
    s
}

fn position(file: &str, line: u32, column: Option<u32>) -> String {
    let file = if file.is_empty() { "?" } else { file };
    match column {
        Some(c) => format!("{file}:{line}:{c}"),
        None => format!("{file}:{line}"),
    }
}

fn function_lines(f: &FunctionReport, out: &mut String) {
    out.push_str(&format!(
        "{}: {}: {} call{}, {} allocs/call, {}/call\n",
        position(&f.file, f.line, None),
        super::top::label(f),
        thousands(f.calls),
        if f.calls == 1 { "" } else { "s" },
        number(f.allocs_per_call),
        bytes_f(f.bytes_per_call),
    ));
    let mut sites: Vec<&FunctionSite> = f.sites.iter().collect();
    sites.sort_by(|a, b| {
        (&a.file, a.line, a.column)
            .cmp(&(&b.file, b.line, b.column))
            .then_with(|| a.function.cmp(&b.function))
    });
    for s in sites {
        let what = match &s.expr {
            Some(e) if !e.trim().is_empty() => one_line(e),
            _ => format!("allocation in {}", short_fn(&s.function)),
        };
        out.push_str(&format!(
            "{}: {what} {}: {}\n",
            position(&s.file, s.line, s.column),
            verb(&s.verdict_kind),
            s.verdict
        ));
    }
}

fn site_line(s: &SiteReport, out: &mut String) {
    out.push_str(&format!(
        "{}: allocation in {} {}: {}\n",
        position(&s.file, s.line, None),
        short_fn(&s.function),
        verb(&s.verdict_kind),
        s.verdict
    ));
}

/// The explanation of one function, or of every tracked function and then every other site.
/// Fails only when the named function is not in the report.
pub fn run(opts: &Options, r: &Report) -> Result<String, String> {
    let mut out = String::new();
    if let Some(rate) = r.sample_rate {
        out.push_str(&format!(
            "note: sampled mode (1 sample per {} on average): counts are estimates\n",
            Bytes(rate)
        ));
    }
    if let Some(name) = &opts.function {
        let Some(f) = r.function(name) else {
            return Err(not_found(name, r));
        };
        function_lines(f, &mut out);
        return Ok(out);
    }
    let mut shown: HashSet<(&str, u32, &str)> = HashSet::new();
    for f in &r.functions {
        function_lines(f, &mut out);
        out.push('\n');
        shown.extend(
            f.sites
                .iter()
                .map(|s| (s.file.as_str(), s.line, s.function.as_str())),
        );
    }
    let mut rest: Vec<&SiteReport> = r
        .sites
        .iter()
        .filter(|s| !shown.contains(&(s.file.as_str(), s.line, s.function.as_str())))
        .collect();
    rest.sort_by(|a, b| (&a.file, a.line, &a.function).cmp(&(&b.file, b.line, &b.function)));
    if !r.functions.is_empty() && !rest.is_empty() {
        out.push_str("sites outside tracked functions:\n");
    }
    for s in &rest {
        site_line(s, &mut out);
    }
    if r.sites.is_empty() && r.functions.is_empty() {
        out.push_str(if r.mode == "counts" {
            "no sites: the report was made in counts mode (ALLOC_PROBE_MODE=full records them)\n"
        } else {
            "no sites: nothing was allocated\n"
        });
    }
    Ok(out)
}

fn not_found(name: &str, r: &Report) -> String {
    if r.functions.is_empty() {
        return format!(
            "no tracked function {name:?}: the report has no #[track_allocs] functions"
        );
    }
    let names: Vec<&str> = r.functions.iter().map(|f| f.name.as_str()).collect();
    format!(
        "no tracked function {name:?}; tracked: {}",
        names.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::testing::{function, report, site};

    fn fsite(
        line: u32,
        function: &str,
        kind: &str,
        verdict: &str,
        expr: Option<&str>,
    ) -> FunctionSite {
        FunctionSite {
            file: "src/parse.rs".into(),
            line,
            function: function.into(),
            allocs: 10_000,
            bytes: 240_000,
            verdict_kind: kind.into(),
            verdict: verdict.into(),
            expr: expr.map(Into::into),
            column: expr.map(|_| 17),
            ..FunctionSite::default()
        }
    }

    fn sample() -> Report {
        let mut r = report();
        let mut f = function("app::parse::parse_line", 10_000, 20_000, 480_000);
        f.file = "src/parse.rs".into();
        f.line = 40;
        f.sites = vec![
            fsite(
                50,
                "app::parse::helper",
                "escapes",
                "escapes (outlives helper: freed after it returned 100%)",
                None,
            ),
            fsite(
                42,
                "app::parse::parse_line",
                "stack-avoidable",
                "stack-avoidable (10000/10000, 24 B, freed in parse_line)",
                Some("Box::new(x)"),
            ),
        ];
        r.functions = vec![f, function("app::other", 1, 1, 8)];
        r.sites = vec![
            site(
                "src/parse.rs",
                42,
                "app::parse::parse_line",
                10_000,
                240_000,
            ),
            site("src/main.rs", 7, "app::main", 1, 100),
        ];
        r
    }

    #[test]
    fn a_function_in_source_order_with_expressions() {
        let out = run(
            &Options {
                function: Some("parse_line".into()),
            },
            &sample(),
        )
        .unwrap();
        assert_eq!(
            out,
            "src/parse.rs:40: app::parse::parse_line: 10,000 calls, 2 allocs/call, 48 B/call\n\
             src/parse.rs:42:17: Box::new(x) does not escape: stack-avoidable (10000/10000, 24 B, freed in parse_line)\n\
             src/parse.rs:50: allocation in helper escapes: escapes (outlives helper: freed after it returned 100%)\n"
        );
    }

    #[test]
    fn path_suffixes_name_functions() {
        let r = sample();
        for name in ["parse::parse_line", "app::parse::parse_line"] {
            let out = run(
                &Options {
                    function: Some(name.into()),
                },
                &r,
            )
            .unwrap();
            assert!(out.contains("Box::new(x)"), "{name}: {out}");
        }
    }

    #[test]
    fn unknown_function_lists_the_tracked_ones() {
        let err = run(
            &Options {
                function: Some("nope".into()),
            },
            &sample(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            "no tracked function \"nope\"; tracked: parse_line, other"
        );
    }

    #[test]
    fn everything_then_the_sites_outside_functions() {
        let out = run(&Options { function: None }, &sample()).unwrap();
        assert!(
            out.contains("src/parse.rs:40: app::parse::parse_line"),
            "{out}"
        );
        assert!(out.contains("src/lib.rs:1: app::other: 1 call,"), "{out}");
        // parse.rs:42 was shown under its function; main.rs:7 comes after.
        assert_eq!(out.matches("src/parse.rs:42").count(), 1, "{out}");
        assert!(out.ends_with(
            "sites outside tracked functions:\n\
             src/main.rs:7: allocation in main escapes: escapes (outlives main: freed after it returned 100%)\n"
        ), "{out}");
    }

    #[test]
    fn long_expressions_stay_on_one_line() {
        let e = one_line("vec![\n    1,\n    2\n]");
        assert_eq!(e, "vec![ 1, 2 ]");
        assert_eq!(one_line(&"x".repeat(200)).chars().count(), 80);
    }
}
