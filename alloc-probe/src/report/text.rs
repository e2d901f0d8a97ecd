//! The readable table: a person's first look, printed at exit and by `Display`.

use std::fmt::{self, Write};

use super::classify::NO_FRAME_TEST;
use super::model::{Report, SiteReport};
use super::names::short_fn;
use super::units::{thousands, Bytes, Percent};
use crate::counters::Stats;
use crate::tracking::header::HEADER;

/// How much the table shows.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Detail {
    /// Totals, top sites and findings: under 60 lines.
    Summary,
    /// Every site.
    Full,
}

fn place(s: &SiteReport) -> String {
    let func = short_fn(&s.function);
    let file = if s.file.is_empty() { "?" } else { &s.file };
    // `~` marks the function's line, where the debug info had none for the site.
    let mark = if s.line_of_function { "~" } else { "" };
    let mut p = format!("{file}:{mark}{} {func}", s.line);
    if p.len() > 52 {
        let cut = p.len() - 51;
        p = format!(
            "…{}",
            &p[p.char_indices()
                .find(|(i, _)| *i >= cut)
                .map_or(0, |(i, _)| i)..]
        );
    }
    p
}

fn site_rows(f: &mut impl Write, sites: &[&SiteReport]) -> fmt::Result {
    writeln!(
        f,
        "  {:>9} {:>10} {:>9} {:>9} {:>9}  {:<52}",
        "blocks", "bytes", "no-esc", "avoid", "temp", "site"
    )?;
    for s in sites {
        writeln!(
            f,
            "  {:>9} {:>10} {:>9} {:>9} {:>9}  {:<52}",
            thousands(s.allocs),
            Bytes(s.bytes).to_string(),
            Percent(s.non_escaping, s.allocs),
            Percent(s.stack_avoidable, s.allocs),
            thousands(s.temporary),
            place(s)
        )?;
    }
    Ok(())
}

/// Writes the table of `r`.
pub(crate) fn write(r: &Report, f: &mut impl Write, detail: Detail) -> fmt::Result {
    let st = &r.stats;
    writeln!(
        f,
        "alloc-probe: {}{}, mode {}{}, {:.1} ms",
        r.binary,
        // A merged report has no one process.
        if r.pid == 0 {
            String::new()
        } else {
            format!(" (pid {})", r.pid)
        },
        r.mode,
        r.sample_rate
            .map(|s| format!(
                " (1 sample per {} on average: per-site figures are estimates)",
                Bytes(s)
            ))
            .unwrap_or_default(),
        r.elapsed_ns as f64 / 1e6
    )?;
    writeln!(
        f,
        "  {} allocs, {} reallocs, {} frees, {} allocated; peak {}; live {} in {} blocks{}",
        thousands(st.allocs),
        thousands(st.reallocs),
        thousands(st.deallocs),
        Bytes(st.bytes_allocated),
        Bytes(st.peak_live_bytes),
        Bytes(st.live_bytes),
        thousands(st.live_blocks),
        if st.failed > 0 {
            format!("; {} refused", st.failed)
        } else {
            String::new()
        }
    )?;
    if r.tracking.stacks > 0 {
        writeln!(
            f,
            "  tracking memory: {} for {} unique stacks{}",
            Bytes(r.tracking.stack_bytes + r.tracking.side_bytes),
            thousands(r.tracking.stacks),
            if r.tracking.header_bytes > 0 {
                format!(", plus a {HEADER} B header per live block")
            } else {
                String::new()
            },
        )?;
    }
    if r.tracking.unsited_blocks > 0 {
        writeln!(
            f,
            "  no site: {} blocks ({}) from stacks that found no room (the limit of \
             ALLOC_PROBE_MAX_STACKS or Probe::with_max_stacks, or memory); in the totals, not \
             in the tables",
            thousands(r.tracking.unsited_blocks),
            Bytes(r.tracking.unsited_bytes)
        )?;
    }
    if !r.frame_test && !r.sites.is_empty() {
        let fix = if cfg!(windows) {
            ""
        } else {
            "; build with -C force-frame-pointers=yes for the frame test"
        };
        writeln!(
            f,
            "  {NO_FRAME_TEST}: stacks came from the unwinder, and outside #[track_allocs] \
             functions a block freed on its thread counts as escaped (see \"unknown\" \
             verdicts){fix}"
        )?;
    }
    // Line tables name functions without their module path (`parse`, `{closure}`).
    let bare = |s: &SiteReport| s.file.ends_with(".rs") && !s.function.contains("::");
    if r.sites.iter().any(bare) {
        writeln!(
            f,
            "  some functions are named without their paths (the build has line tables only): \
             set debug = \"limited\" in the Cargo profile for full paths"
        )?;
    }
    if r.sites.is_empty() {
        if r.mode == "counts" {
            writeln!(
                f,
                "  (counts mode: no call sites; run with ALLOC_PROBE_MODE=full for sites)"
            )?;
        }
        return Ok(());
    }
    let sum = |g: fn(&SiteReport) -> u64| r.sites.iter().map(g).sum::<u64>();
    let blocks = sum(|s| s.allocs);
    writeln!(
        f,
        "  classes: non-escaping {} ({}), stack-avoidable {} ({}), escaped {} ({}), temporary {}, leaked {} ({})",
        thousands(sum(|s| s.non_escaping)),
        Percent(sum(|s| s.non_escaping), blocks),
        thousands(sum(|s| s.stack_avoidable)),
        Percent(sum(|s| s.stack_avoidable), blocks),
        thousands(sum(|s| s.escaped)),
        Percent(sum(|s| s.escaped), blocks),
        thousands(sum(|s| s.temporary)),
        thousands(sum(|s| s.leaked)),
        Bytes(sum(|s| s.leaked_bytes)),
    )?;
    let runtime: Vec<&SiteReport> = r.sites.iter().filter(|s| s.runtime).collect();
    if !runtime.is_empty() {
        let n = |g: fn(&SiteReport) -> u64| runtime.iter().map(|s| g(s)).sum::<u64>();
        writeln!(
            f,
            "  runtime (the test harness, the standard library's set-up): {} allocs, {}, {} still \
             live; in the totals, not in the tables",
            thousands(n(|s| s.allocs)),
            Bytes(n(|s| s.bytes)),
            thousands(n(|s| s.leaked)),
        )?;
    }
    let top = if detail == Detail::Full {
        usize::MAX
    } else {
        8
    };
    // The program's own sites.
    let sites: Vec<&SiteReport> = r.sites.iter().filter(|s| !s.runtime).collect();
    if !r.functions.is_empty() {
        writeln!(
            f,
            "\nTracked functions (allocs/call and B/call: per call, callees included, reallocs \
             counted as allocs; own blocks: born in the function itself, over all calls; no-esc \
             and avoid: shares of those)"
        )?;
        writeln!(
            f,
            "  {:>9} {:>11} {:>10} {:>10} {:>7} {:>7}  function",
            "calls", "allocs/call", "B/call", "own blocks", "no-esc", "avoid"
        )?;
        for func in r.functions.iter().take(top) {
            writeln!(
                f,
                "  {:>9} {:>11.2} {:>10.1} {:>10} {:>7} {:>7}  {}",
                thousands(func.calls),
                func.allocs_per_call,
                func.bytes_per_call,
                thousands(func.allocs),
                Percent(func.non_escaping, func.allocs),
                Percent(func.stack_avoidable, func.allocs),
                func.name
            )?;
            if func.in_flight > 0 {
                writeln!(
                    f,
                    "  {:>9} of those still running at the report, counted until then",
                    thousands(func.in_flight)
                )?;
            }
        }
    }
    if !r.tests.is_empty() {
        writeln!(
            f,
            "\nTests (blocks born under each test's function, on its thread; max live: at most \
             this many bytes live at once)"
        )?;
        writeln!(
            f,
            "  {:>9} {:>10} {:>10} {:>9} {:>10}  test",
            "blocks", "bytes", "max live", "leaked", "leaked B"
        )?;
        for t in r.tests.iter().take(top.max(20)) {
            writeln!(
                f,
                "  {:>9} {:>10} {:>10} {:>9} {:>10}  {} {}",
                thousands(t.allocs),
                Bytes(t.bytes).to_string(),
                Bytes(t.max_live_bytes).to_string(),
                thousands(t.leaked),
                Bytes(t.leaked_bytes).to_string(),
                t.binary,
                t.name
            )?;
        }
        if r.tests.len() > top.max(20) {
            writeln!(
                f,
                "  ... and {} more tests (alloc-probe top --test NAME shows one)",
                r.tests.len() - top.max(20)
            )?;
        }
    }
    writeln!(f, "\nTop sites by blocks")?;
    let by_blocks: Vec<&SiteReport> = sites.iter().copied().take(top).collect();
    site_rows(f, &by_blocks)?;
    if detail == Detail::Summary {
        let mut by_bytes: Vec<&SiteReport> = sites.clone();
        by_bytes.sort_by_key(|s| std::cmp::Reverse(s.bytes));
        writeln!(f, "\nTop sites by bytes")?;
        site_rows(f, &by_bytes[..by_bytes.len().min(5)])?;
    }
    let findings = |kinds: &[&str]| -> Vec<&SiteReport> {
        let mut v: Vec<&SiteReport> = sites
            .iter()
            .copied()
            .filter(|s| kinds.contains(&s.verdict_kind.as_str()))
            .collect();
        v.sort_by_key(|s| std::cmp::Reverse(s.allocs));
        v.truncate(if detail == Detail::Full {
            usize::MAX
        } else {
            6
        });
        v
    };
    for (title, kinds) in [
        ("Could live on the stack", &["stack-avoidable"][..]),
        (
            "Buffers to reuse or size up front",
            &["reusable-buffer", "non-escaping"][..],
        ),
        ("Leaks (still live)", &["leaked"][..]),
    ] {
        let list = findings(kinds);
        if list.is_empty() {
            continue;
        }
        writeln!(f, "\n{title}")?;
        for s in list {
            writeln!(f, "  {}: {}", place(s), s.verdict)?;
        }
    }
    Ok(())
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write(self, f, Detail::Summary)
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} allocs, {} reallocs, {} frees; {} allocated; live {} in {} blocks; peak {}",
            self.allocs,
            self.reallocs,
            self.deallocs,
            Bytes(self.bytes_allocated),
            Bytes(self.live_bytes),
            self.live_blocks,
            Bytes(self.peak_live_bytes),
        )?;
        if self.failed > 0 {
            write!(f, "; {} refused", self.failed)?;
        }
        Ok(())
    }
}
