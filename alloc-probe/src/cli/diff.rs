//! `alloc-probe diff`: what changed between two reports, and a gate for CI: allocs/call or
//! bytes/call of a tracked function growing past a threshold fails the run.
//!
//! Functions are compared per call, so runs of different lengths compare fairly; sites have
//! no call count and are compared by their totals.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use crate::report::{FunctionReport, Report, SiteReport, TestReport};

use super::table::{bytes_f, change, number, Align, Style, Table};
use crate::report::units::{thousands, Bytes};

/// How much a function's allocs/call or bytes/call may grow before the gate fails.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Threshold {
    /// A fraction of the base value (`5%` is 0.05).
    Relative(f64),
    /// An amount in the figure's own unit (allocations or bytes per call); `0` fails any growth.
    Absolute(f64),
}

impl FromStr for Threshold {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let (num, relative) = match s.strip_suffix('%') {
            Some(n) => (n.trim(), true),
            None => (s, false),
        };
        let v: f64 = num
            .strip_prefix('+')
            .unwrap_or(num)
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite() && *v >= 0.0)
            .ok_or_else(|| {
                "expected a percentage like 5% or an absolute increase per call like 0".to_string()
            })?;
        Ok(if relative {
            Threshold::Relative(v / 100.0)
        } else {
            Threshold::Absolute(v)
        })
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Threshold::Relative(r) => write!(f, "{}%", number(r * 100.0)),
            Threshold::Absolute(a) => write!(f, "{} per call", number(a)),
        }
    }
}

impl Threshold {
    /// Whether going from `base` to `new` grew by more than this allows. Growth from zero
    /// exceeds every relative threshold.
    pub fn exceeded(self, base: f64, new: f64) -> bool {
        // Per-call figures are quotients: ignore rounding noise, not real growth.
        let slack = 1e-9 * base.abs().max(1.0);
        let limit = match self {
            Threshold::Relative(r) => base + base.abs() * r,
            Threshold::Absolute(a) => base + a,
        };
        new > limit + slack
    }
}

/// `diff`'s options.
pub struct Options {
    /// The gate.
    pub max_increase: Threshold,
    /// Text or Markdown.
    pub style: Style,
}

/// The readable diff and the functions that failed the gate, one line each.
pub struct Outcome {
    /// Tables of what changed.
    pub text: String,
    /// `name: allocs/call 4 → 5 (+25.0%) ...`, one per failing function.
    pub failures: Vec<String>,
}

fn side(label: &str, r: &Report, style: Style) -> String {
    let bullet = if style == Style::Markdown { "- " } else { "" };
    format!(
        "{bullet}{label} {} (pid {}), {} mode: {} allocs, {} allocated, {} tracked functions, {} sites\n",
        r.binary,
        r.pid,
        r.mode,
        thousands(r.stats.allocs),
        Bytes(r.stats.bytes_allocated),
        r.functions.len(),
        r.sites.len()
    )
}

fn arrow(base: String, new: String) -> String {
    format!("{base} → {new}")
}

/// Matches a function of `new` in `base`: same path, else same report name.
fn find(base: &[FunctionReport], f: &FunctionReport) -> Option<usize> {
    base.iter()
        .position(|b| b.path == f.path)
        .or_else(|| base.iter().position(|b| b.name == f.name))
}

/// Compares two reports.
pub fn run(opts: &Options, base: &Report, new: &Report) -> Outcome {
    let style = opts.style;
    let mut out = String::new();
    if style == Style::Markdown {
        out.push_str("### alloc-probe: heap allocations, base → new\n\n");
    }
    out.push_str(&side("base:", base, style));
    out.push_str(&side("new: ", new, style));
    if base.mode != new.mode {
        out.push_str(&format!(
            "note: base was made in {} mode and new in {} mode: site figures may not compare\n",
            base.mode, new.mode
        ));
    }
    let mut failures = Vec::new();

    let mut t = Table::new(&[
        ("function", Align::Left),
        ("calls", Align::Right),
        ("allocs/call", Align::Right),
        ("", Align::Right),
        ("bytes/call", Align::Right),
        ("", Align::Right),
        ("", Align::Left),
    ]);
    let mut matched = vec![false; base.functions.len()];
    for f in &new.functions {
        let label = super::top::label(f);
        let Some(i) = find(&base.functions, f) else {
            t.row(vec![
                label,
                thousands(f.calls),
                number(f.allocs_per_call),
                "new".into(),
                bytes_f(f.bytes_per_call),
                "new".into(),
            ]);
            continue;
        };
        matched[i] = true;
        let b = &base.functions[i];
        let gate = opts.max_increase;
        let allocs_over = gate.exceeded(b.allocs_per_call, f.allocs_per_call);
        let bytes_over = gate.exceeded(b.bytes_per_call, f.bytes_per_call);
        let allocs = arrow(number(b.allocs_per_call), number(f.allocs_per_call));
        let allocs_change = change(b.allocs_per_call, f.allocs_per_call);
        let byte = arrow(bytes_f(b.bytes_per_call), bytes_f(f.bytes_per_call));
        let bytes_change = change(b.bytes_per_call, f.bytes_per_call);
        if allocs_over || bytes_over {
            let mut what = Vec::new();
            if allocs_over {
                what.push(format!("allocs/call {allocs} ({allocs_change})"));
            }
            if bytes_over {
                what.push(format!("bytes/call {byte} ({bytes_change})"));
            }
            failures.push(format!(
                "{label}: {}, more than the allowed {gate}",
                what.join(", ")
            ));
        }
        t.row(vec![
            label,
            arrow(thousands(b.calls), thousands(f.calls)),
            allocs,
            allocs_change,
            byte,
            bytes_change,
            if allocs_over || bytes_over {
                format!("over {gate}")
            } else {
                String::new()
            },
        ]);
    }
    for (b, _) in base.functions.iter().zip(&matched).filter(|(_, m)| !**m) {
        t.row(vec![
            super::top::label(b),
            arrow(thousands(b.calls), "-".into()),
            number(b.allocs_per_call),
            "gone".into(),
            bytes_f(b.bytes_per_call),
            "gone".into(),
        ]);
    }
    if t.len() > 0 {
        style.heading("Tracked functions, per call (base → new)", &mut out);
        t.render_as(style, &mut out);
    }

    tests(base, new, style, &mut out);
    sites(base, new, style, &mut out);

    out.push('\n');
    if failures.is_empty() {
        out.push_str(&format!(
            "ok: no tracked function's allocs/call or bytes/call grew more than {}\n",
            opts.max_increase
        ));
    }
    for f in &failures {
        out.push_str(&match style {
            Style::Text => format!("FAIL {f}\n"),
            Style::Markdown => format!("- **FAIL** {f}\n"),
        });
    }
    Outcome {
        text: out,
        failures,
    }
}

type SiteKey<'a> = (&'a str, u32, &'a str);

fn key(s: &SiteReport) -> SiteKey<'_> {
    (&s.file, s.line, &s.function)
}

/// The sites whose allocs or bytes changed, biggest change first, then the new and the
/// vanished ones.
fn sites(base: &Report, new: &Report, style: Style, out: &mut String) {
    let old: HashMap<SiteKey, &SiteReport> = base.sites.iter().map(|s| (key(s), s)).collect();
    let now: HashMap<SiteKey, &SiteReport> = new.sites.iter().map(|s| (key(s), s)).collect();
    let mut changed: Vec<(&SiteReport, &SiteReport)> = Vec::new();
    let mut unchanged = 0;
    let mut added = Vec::new();
    for s in &new.sites {
        match old.get(&key(s)) {
            Some(b) if (b.allocs, b.bytes) == (s.allocs, s.bytes) => unchanged += 1,
            Some(b) => changed.push((b, s)),
            None => added.push(s),
        }
    }
    let gone: Vec<&SiteReport> = base
        .sites
        .iter()
        .filter(|s| !now.contains_key(&key(s)))
        .collect();
    let delta = |b: u64, n: u64| n.abs_diff(b);
    changed.sort_by(|x, y| {
        delta(y.0.allocs, y.1.allocs)
            .cmp(&delta(x.0.allocs, x.1.allocs))
            .then(delta(y.0.bytes, y.1.bytes).cmp(&delta(x.0.bytes, x.1.bytes)))
            .then_with(|| key(x.1).cmp(&key(y.1)))
    });
    if changed.is_empty() && added.is_empty() && gone.is_empty() {
        style.heading(&format!("Sites: all {unchanged} unchanged"), out);
        return;
    }
    let mut t = Table::new(&[
        ("allocs", Align::Right),
        ("", Align::Right),
        ("bytes", Align::Right),
        ("", Align::Right),
        ("site", Align::Left),
    ]);
    let place = |s: &SiteReport| super::top::place(&s.file, s.line, &s.function);
    for (b, s) in &changed {
        t.row(vec![
            arrow(thousands(b.allocs), thousands(s.allocs)),
            change(b.allocs as f64, s.allocs as f64),
            arrow(Bytes(b.bytes).to_string(), Bytes(s.bytes).to_string()),
            change(b.bytes as f64, s.bytes as f64),
            place(s),
        ]);
    }
    for s in added {
        t.row(vec![
            thousands(s.allocs),
            "new".into(),
            Bytes(s.bytes).to_string(),
            "new".into(),
            place(s),
        ]);
    }
    for s in gone {
        t.row(vec![
            thousands(s.allocs),
            "gone".into(),
            Bytes(s.bytes).to_string(),
            "gone".into(),
            place(s),
        ]);
    }
    style.heading(
        &format!("Sites, totals (base → new), {unchanged} unchanged not shown"),
        out,
    );
    t.render_as(style, out);
}

/// The tests whose allocations changed, most changed first, then the new and gone ones.
fn tests(base: &Report, new: &Report, style: Style, out: &mut String) {
    if base.tests.is_empty() && new.tests.is_empty() {
        return;
    }
    let name = |t: &TestReport| format!("{} {}", t.binary, t.name);
    let old: HashMap<(&str, &str), &TestReport> = base
        .tests
        .iter()
        .map(|t| ((t.binary.as_str(), t.name.as_str()), t))
        .collect();
    let mut rows: Vec<(u64, Vec<String>)> = Vec::new();
    let mut unchanged = 0;
    let mut seen = std::collections::HashSet::new();
    for t in &new.tests {
        seen.insert((t.binary.as_str(), t.name.as_str()));
        match old.get(&(t.binary.as_str(), t.name.as_str())) {
            Some(b) if (b.allocs, b.bytes) == (t.allocs, t.bytes) => unchanged += 1,
            Some(b) => rows.push((
                t.allocs.abs_diff(b.allocs),
                vec![
                    arrow(thousands(b.allocs), thousands(t.allocs)),
                    change(b.allocs as f64, t.allocs as f64),
                    arrow(Bytes(b.bytes).to_string(), Bytes(t.bytes).to_string()),
                    change(b.bytes as f64, t.bytes as f64),
                    name(t),
                ],
            )),
            None => rows.push((
                0,
                vec![
                    thousands(t.allocs),
                    "new".into(),
                    Bytes(t.bytes).to_string(),
                    "new".into(),
                    name(t),
                ],
            )),
        }
    }
    for b in &base.tests {
        if !seen.contains(&(b.binary.as_str(), b.name.as_str())) {
            rows.push((
                0,
                vec![
                    thousands(b.allocs),
                    "gone".into(),
                    Bytes(b.bytes).to_string(),
                    "gone".into(),
                    name(b),
                ],
            ));
        }
    }
    if rows.is_empty() {
        style.heading(&format!("Tests: all {unchanged} unchanged"), out);
        return;
    }
    // Most changed first; new and gone ones (0) after, in order.
    rows.sort_by_key(|r| std::cmp::Reverse(r.0));
    let mut t = Table::new(&[
        ("allocs", Align::Right),
        ("", Align::Right),
        ("bytes", Align::Right),
        ("", Align::Right),
        ("test", Align::Left),
    ]);
    for (_, r) in rows {
        t.row(r);
    }
    style.heading(
        &format!("Tests (base → new), {unchanged} unchanged not shown"),
        out,
    );
    t.render_as(style, out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::testing::{function, report, site};

    fn pair() -> (Report, Report) {
        let mut base = report();
        base.functions = vec![
            function("app::parse_line", 100, 400, 12_000),
            function("app::render", 10, 10, 1_000),
            function("app::old", 1, 1, 8),
        ];
        base.sites = vec![
            site("src/a.rs", 1, "app::parse_line", 400, 12_000),
            site("src/a.rs", 9, "app::old", 1, 8),
            site("src/b.rs", 2, "app::render", 10, 1_000),
        ];
        let mut new = report();
        new.functions = vec![
            // 4 → 5 allocs/call (+25%), 120 → 130 B/call (+8.3%).
            function("app::parse_line", 200, 1_000, 26_000),
            function("app::render", 10, 10, 1_000),
            function("app::fresh", 1, 2, 16),
        ];
        new.sites = vec![
            site("src/a.rs", 1, "app::parse_line", 1_000, 26_000),
            site("src/a.rs", 5, "app::fresh", 2, 16),
            site("src/b.rs", 2, "app::render", 10, 1_000),
        ];
        (base, new)
    }

    fn gate(t: &str) -> Outcome {
        let (base, new) = pair();
        run(
            &Options {
                max_increase: t.parse().unwrap(),
                style: Style::Text,
            },
            &base,
            &new,
        )
    }

    #[test]
    fn thresholds_parse() {
        assert_eq!("5%".parse(), Ok(Threshold::Relative(0.05)));
        assert_eq!(" +10 % ".parse(), Ok(Threshold::Relative(0.1)));
        assert_eq!("0".parse(), Ok(Threshold::Absolute(0.0)));
        assert_eq!("2.5".parse(), Ok(Threshold::Absolute(2.5)));
        for bad in ["", "%", "-5%", "five", "inf", "NaN%"] {
            assert!(bad.parse::<Threshold>().is_err(), "{bad}");
        }
        assert_eq!(Threshold::Relative(0.05).to_string(), "5%");
        assert_eq!(Threshold::Absolute(0.0).to_string(), "0 per call");
    }

    #[test]
    fn growth_against_thresholds() {
        let r = Threshold::Relative(0.05);
        assert!(!r.exceeded(100.0, 105.0));
        assert!(r.exceeded(100.0, 105.1));
        assert!(r.exceeded(0.0, 0.1), "growth from zero");
        assert!(!r.exceeded(3.0, 2.0));
        let a = Threshold::Absolute(0.0);
        assert!(a.exceeded(3.0, 3.01));
        assert!(!a.exceeded(3.0, 3.0));
        assert!(!a.exceeded(1.0 / 3.0 * 3.0, 1.0), "rounding noise");
    }

    #[test]
    fn the_gate_names_each_failing_function() {
        let o = gate("5%");
        assert_eq!(
            o.failures,
            ["app::parse_line: allocs/call 4 → 5 (+25.0%), bytes/call 120 B → 130 B (+8.3%), more than the allowed 5%"]
        );
        let o = gate("10%");
        assert_eq!(
            o.failures,
            ["app::parse_line: allocs/call 4 → 5 (+25.0%), more than the allowed 10%"]
        );
        assert!(gate("25%").failures.is_empty());
        // Absolute: +1 alloc/call and +10 B/call.
        assert!(gate("10").failures.is_empty());
        assert_eq!(
            gate("9").failures,
            ["app::parse_line: bytes/call 120 B → 130 B (+8.3%), more than the allowed 9 per call"]
        );
        assert_eq!(gate("0").failures.len(), 1);
        assert!(gate("25%")
            .text
            .ends_with("ok: no tracked function's allocs/call or bytes/call grew more than 25%\n"));
    }

    #[test]
    fn new_vanished_and_changed() {
        let text = gate("5%").text;
        let line = |needle: &str| {
            text.lines()
                .find(|l| l.contains(needle))
                .unwrap_or_else(|| panic!("no {needle} in\n{text}"))
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(
            line("app::parse_line  "),
            "app::parse_line 100 → 200 4 → 5 +25.0% 120 B → 130 B +8.3% over 5%"
        );
        assert_eq!(
            line("app::render"),
            "app::render 10 → 10 1 → 1 = 100 B → 100 B ="
        );
        assert_eq!(line("app::fresh"), "app::fresh 1 2 new 16 B new");
        assert_eq!(line("app::old"), "app::old 1 → - 1 gone 8 B gone");
        assert_eq!(
            line("a.rs:1 "),
            "400 → 1,000 +150.0% 11.7 KiB → 25.4 KiB +116.7% src/a.rs:1 parse_line"
        );
        assert_eq!(line("a.rs:5 "), "2 new 16 B new src/a.rs:5 fresh");
        assert_eq!(line("a.rs:9 "), "1 gone 8 B gone src/a.rs:9 old");
        assert!(text.contains("1 unchanged not shown"), "{text}");
    }

    #[test]
    fn identical_reports_pass_even_at_zero() {
        let (base, _) = pair();
        let o = run(
            &Options {
                max_increase: Threshold::Absolute(0.0),
                style: Style::Text,
            },
            &base,
            &base,
        );
        assert!(o.failures.is_empty());
        assert!(o.text.contains("Sites: all 3 unchanged"), "{}", o.text);
    }

    #[test]
    fn markdown_is_a_pull_request_comment() {
        let (mut base, mut new) = pair();
        base.tests = vec![crate::report::TestReport {
            binary: "it".into(),
            name: "parses".into(),
            allocs: 10,
            bytes: 100,
            ..Default::default()
        }];
        new.tests = vec![crate::report::TestReport {
            allocs: 12,
            bytes: 100,
            ..base.tests[0].clone()
        }];
        let o = run(
            &Options {
                max_increase: "5%".parse().unwrap(),
                style: Style::Markdown,
            },
            &base,
            &new,
        );
        let md = o.text;
        assert!(md.starts_with("### alloc-probe"), "{md}");
        assert!(
            md.contains("\n#### Tracked functions, per call (base → new)\n\n| function |"),
            "{md}"
        );
        assert!(
            md.contains("| 10 → 12 | +20.0% | 100 B → 100 B | = | `it parses` |\n"),
            "{md}"
        );
        assert!(
            md.contains("\n- **FAIL** app::parse_line: allocs/call 4 → 5 (+25.0%)"),
            "{md}"
        );
        // Every table line is a row of the same width.
        for table in md.split("\n\n").filter(|b| b.starts_with('|')) {
            let cols: Vec<usize> = table.lines().map(|l| l.matches('|').count()).collect();
            assert!(cols.windows(2).all(|w| w[0] == w[1]), "{table}");
        }
    }
}
