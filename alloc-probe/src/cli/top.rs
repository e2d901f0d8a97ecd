//! `alloc-probe top`: the costliest sites and tracked functions of one report.

use crate::report::{FunctionReport, Report, SiteReport, TestReport};

use super::table::{bytes_f, number, Align, Table};
use crate::report::names::short_fn;
use crate::report::units::{thousands, Bytes, Percent};

/// What to rank by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum By {
    /// Blocks allocated (functions: inclusive, callees' blocks included).
    #[default]
    Blocks,
    /// Bytes allocated (functions: inclusive).
    Bytes,
    /// Stack-avoidable blocks: freed before their function returned, small, never grown.
    Avoidable,
    /// Bytes still live at the report (functions have no leak count: escaped blocks instead).
    Leaked,
}

/// `top`'s options.
pub struct Options {
    /// The ranking.
    pub by: By,
    /// Rows per table; 0 shows all.
    pub rows: usize,
    /// Only this test's sites: its name, or `binary name` where several binaries have it.
    pub test: Option<String>,
}

/// The test `name` names: libtest's name, or `binary name` (a test's name has no space).
fn find_test<'a>(r: &'a Report, name: &str) -> Result<&'a TestReport, String> {
    let full = |t: &TestReport| format!("{} {}", t.binary, t.name);
    let found: Vec<&TestReport> = r
        .tests
        .iter()
        .filter(|t| t.name == name || full(t) == name)
        .collect();
    match found[..] {
        [t] => Ok(t),
        [] if r.tests.is_empty() => Err(format!(
            "no test {name:?}: the report has no tests (it was not made by a test run in full \
             or sampled mode)"
        )),
        [] => {
            let mut names: Vec<String> = r.tests.iter().map(|t| t.name.clone()).collect();
            names.sort();
            names.truncate(5);
            Err(format!(
                "no test {name:?} in the report; it has {} tests, e.g. {}",
                r.tests.len(),
                names.join(", ")
            ))
        }
        _ => Err(format!(
            "{name:?} names {} tests; give one as \"binary name\": {}",
            found.len(),
            found.iter().map(|t| full(t)).collect::<Vec<_>>().join(", ")
        )),
    }
}

/// The header shared by the human outputs: which program, which mode, the totals.
pub fn header(r: &Report, out: &mut String) {
    let st = &r.stats;
    out.push_str(&format!(
        "{} (pid {}), {} mode, {:.1} ms: {} allocs, {} reallocs, {} allocated, peak {}, {} live in {} blocks\n",
        r.binary,
        r.pid,
        r.mode,
        r.elapsed_ns as f64 / 1e6,
        thousands(st.allocs),
        thousands(st.reallocs),
        Bytes(st.bytes_allocated),
        Bytes(st.peak_live_bytes),
        Bytes(st.live_bytes),
        thousands(st.live_blocks),
    ));
    if let Some(rate) = r.sample_rate {
        out.push_str(&format!(
            "sampled: 1 sample per {} on average, so per-site figures are estimates\n",
            Bytes(rate)
        ));
    }
}

/// `file:line function` of a site.
pub fn place(file: &str, line: u32, function: &str) -> String {
    let file = if file.is_empty() { "?" } else { file };
    format!("{file}:{line} {}", short_fn(function))
}

/// A tracked function's label: its path, with its report name when that differs.
pub fn label(f: &FunctionReport) -> String {
    if f.path.is_empty() || f.path == f.name {
        f.name.clone()
    } else if short_fn(&f.path) == f.name || f.path.ends_with(&format!("::{}", f.name)) {
        f.path.clone()
    } else {
        format!("{} ({})", f.name, f.path)
    }
}

fn site_key(by: By, s: &SiteReport) -> u64 {
    match by {
        By::Blocks => s.allocs,
        By::Bytes => s.bytes,
        By::Avoidable => s.stack_avoidable,
        By::Leaked => s.leaked_bytes,
    }
}

fn function_key(by: By, f: &FunctionReport) -> u64 {
    match by {
        By::Blocks => f.inclusive_allocs,
        By::Bytes => f.inclusive_bytes,
        By::Avoidable => f.stack_avoidable,
        By::Leaked => f.escaped,
    }
}

/// Ranked rows: highest key first, then most blocks, then by name for a stable order. Rows
/// whose key is zero are dropped when ranking by a class (a site that leaked nothing is not a
/// top leak).
fn rank<T>(
    items: &[T],
    by: By,
    key: impl Fn(By, &T) -> u64,
    blocks: impl Fn(&T) -> u64,
    name: impl Fn(&T) -> String,
) -> Vec<&T> {
    let mut v: Vec<&T> = items
        .iter()
        .filter(|x| matches!(by, By::Blocks | By::Bytes) || key(by, x) > 0)
        .collect();
    v.sort_by(|a, b| {
        key(by, b)
            .cmp(&key(by, a))
            .then(blocks(b).cmp(&blocks(a)))
            .then_with(|| name(a).cmp(&name(b)))
    });
    v
}

fn title(what: &str, by_what: &str, shown: usize, of: usize) -> String {
    if shown < of {
        format!("{what} by {by_what} (top {shown} of {of})\n")
    } else {
        format!("{what} by {by_what}\n")
    }
}

/// The report's top sites and functions as aligned tables, or one test's sites.
pub fn run(opts: &Options, r: &Report) -> Result<String, String> {
    let limit = if opts.rows == 0 {
        usize::MAX
    } else {
        opts.rows
    };
    let mut out = String::new();
    // Tracked functions are counted over the whole run, not per test.
    let (all_sites, functions): (&[SiteReport], &[FunctionReport]) = match &opts.test {
        None => {
            header(r, &mut out);
            (&r.sites, &r.functions)
        }
        Some(name) => {
            let t = find_test(r, name)?;
            out.push_str(&format!(
                "test {} in {}: {} blocks, {} allocated, at most {} live at once, {} leaked in {} blocks\n",
                t.name,
                t.binary,
                thousands(t.allocs),
                Bytes(t.bytes),
                Bytes(t.max_live_bytes),
                Bytes(t.leaked_bytes),
                thousands(t.leaked),
            ));
            (&t.sites, &[])
        }
    };

    // The runtime's sites (the test harness, std's set-up) stay in the totals only.
    let own: Vec<SiteReport> = all_sites.iter().filter(|s| !s.runtime).cloned().collect();
    let sites = rank(
        &own,
        opts.by,
        site_key,
        |s| s.allocs,
        |s| format!("{}:{:>9}", s.file, s.line),
    );
    let by_what = match opts.by {
        By::Blocks => "blocks",
        By::Bytes => "bytes",
        By::Avoidable => "stack-avoidable blocks",
        By::Leaked => "leaked bytes",
    };
    let shown = sites.len().min(limit);
    out.push('\n');
    out.push_str(&title("Sites", by_what, shown, sites.len()));
    if sites.is_empty() {
        out.push_str(if all_sites.is_empty() {
            "  (no sites: the report was made in counts mode, or nothing allocated)\n"
        } else {
            "  (none)\n"
        });
    } else {
        let mut t = Table::new(&[
            ("blocks", Align::Right),
            ("bytes", Align::Right),
            ("avoidable", Align::Right),
            ("escaped", Align::Right),
            ("leaked", Align::Right),
            ("class", Align::Left),
            ("site", Align::Left),
        ]);
        for s in sites.iter().take(limit) {
            t.row(vec![
                thousands(s.allocs),
                Bytes(s.bytes).to_string(),
                Percent(s.stack_avoidable, s.allocs).to_string(),
                Percent(s.escaped, s.allocs).to_string(),
                Bytes(s.leaked_bytes).to_string(),
                s.verdict_kind.clone(),
                place(&s.file, s.line, &s.function),
            ]);
        }
        t.render(&mut out);
    }

    if functions.is_empty() {
        return Ok(out);
    }
    let functions = rank(
        functions,
        opts.by,
        function_key,
        |f| f.inclusive_allocs,
        |f| f.path.clone(),
    );
    // Per call, blocks and bytes include the callees' (like Go's allocs/op); the classes are
    // of the function's own blocks, the ones its code can change.
    let by_what = match opts.by {
        By::Blocks => "blocks, callees included",
        By::Bytes => "bytes, callees included",
        By::Avoidable => "own stack-avoidable blocks",
        By::Leaked => "own escaped blocks (leaks are counted per site)",
    };
    let shown = functions.len().min(limit);
    out.push('\n');
    out.push_str(&title("Tracked functions", by_what, shown, functions.len()));
    if functions.is_empty() {
        out.push_str("  (none)\n");
        return Ok(out);
    }
    let mut t = Table::new(&[
        ("calls", Align::Right),
        ("allocs/call", Align::Right),
        ("bytes/call", Align::Right),
        ("blocks", Align::Right),
        ("bytes", Align::Right),
        ("own avoidable", Align::Right),
        ("own escaped", Align::Right),
        ("function", Align::Left),
    ]);
    for f in functions.iter().take(limit) {
        t.row(vec![
            thousands(f.calls),
            number(f.allocs_per_call),
            bytes_f(f.bytes_per_call),
            thousands(f.inclusive_allocs),
            Bytes(f.inclusive_bytes).to_string(),
            Percent(f.stack_avoidable, f.allocs).to_string(),
            Percent(f.escaped, f.allocs).to_string(),
            label(f),
        ]);
    }
    t.render(&mut out);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::testing::{function, report, site};

    fn order(out: &str, section: &str) -> Vec<String> {
        out.split(section)
            .nth(1)
            .unwrap_or_else(|| panic!("no {section} in\n{out}"))
            .lines()
            .skip(2)
            .take_while(|l| !l.is_empty())
            .map(|l| l.split_whitespace().last().unwrap().to_string())
            .collect()
    }

    fn sample() -> Report {
        let mut r = report();
        let mut a = site("a.rs", 1, "m::many_small", 100, 800);
        a.stack_avoidable = 100;
        a.non_escaping = 100;
        a.verdict_kind = "stack-avoidable".into();
        let mut b = site("b.rs", 2, "m::few_large", 3, 30_000);
        b.leaked = 3;
        b.leaked_bytes = 30_000;
        b.escaped = 3;
        let mut c = site("c.rs", 3, "m::middle", 50, 5_000);
        c.leaked = 1;
        c.leaked_bytes = 10;
        c.escaped = 50;
        r.sites = vec![a, b, c];
        let mut f = function("m::parse", 10, 40, 4_000);
        f.stack_avoidable = 40;
        f.escaped = 0;
        let mut g = function("m::load", 1, 3, 90_000);
        g.escaped = 3;
        r.functions = vec![f, g];
        r
    }

    #[test]
    fn orders_by_each_cost() {
        let r = sample();
        let top = |by| {
            run(
                &Options {
                    by,
                    rows: 20,
                    test: None,
                },
                &r,
            )
            .unwrap()
        };
        let out = top(By::Blocks);
        assert_eq!(
            order(&out, "Sites by"),
            ["many_small", "middle", "few_large"]
        );
        assert_eq!(order(&out, "Tracked functions by"), ["m::parse", "m::load"]);
        let out = top(By::Bytes);
        assert_eq!(
            order(&out, "Sites by"),
            ["few_large", "middle", "many_small"]
        );
        assert_eq!(order(&out, "Tracked functions by"), ["m::load", "m::parse"]);
        let out = top(By::Avoidable);
        assert_eq!(order(&out, "Sites by"), ["many_small"]);
        assert_eq!(order(&out, "Tracked functions by"), ["m::parse"]);
        let out = top(By::Leaked);
        assert_eq!(order(&out, "Sites by"), ["few_large", "middle"]);
        assert_eq!(order(&out, "Tracked functions by"), ["m::load"]);
    }

    #[test]
    fn limits_rows_and_says_so() {
        let out = run(
            &Options {
                by: By::Blocks,
                rows: 1,
                test: None,
            },
            &sample(),
        )
        .unwrap();
        assert!(out.contains("Sites by blocks (top 1 of 3)"), "{out}");
        assert_eq!(order(&out, "Sites by"), ["many_small"]);
    }

    #[test]
    fn columns_line_up() {
        let out = run(
            &Options {
                by: By::Blocks,
                rows: 0,
                test: None,
            },
            &sample(),
        )
        .unwrap();
        let table: Vec<&str> = out
            .split("Sites by blocks\n")
            .nth(1)
            .unwrap()
            .lines()
            .take(4)
            .collect();
        // Every row's "bytes" column ends at the same place.
        let ends: Vec<usize> = table
            .iter()
            .map(|l| {
                let class = l
                    .find("class")
                    .or_else(|| l.find("stack-"))
                    .or_else(|| l.find("escapes"));
                class.unwrap_or_else(|| panic!("{l}"))
            })
            .collect();
        assert!(ends.windows(2).all(|w| w[0] == w[1]), "{out}");
    }

    #[test]
    fn counts_mode_says_why_there_are_no_sites() {
        let mut r = report();
        r.mode = "counts".into();
        let out = run(
            &Options {
                by: By::Blocks,
                rows: 20,
                test: None,
            },
            &r,
        )
        .unwrap();
        assert!(out.contains("counts mode"), "{out}");
    }
}
