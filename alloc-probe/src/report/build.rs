//! Builds a [`Report`] from the live tables.

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;

use super::{
    FrameReport, FunctionReport, FunctionSite, Report, SiteReport, StackReport, TrackingCost,
    SCHEMA, SCHEMA_VERSION,
};
use crate::classify::{classify, verdict, Classes};
use crate::config::{self, Mode};
use crate::sites::{self, UNIT_FULL, UNIT_SAMPLED};
use crate::symbolize::{short_path, Frame, Symbols};
use crate::{clock, guard, tally};

/// The short name of a function for verdicts: its last path segment, with the closures
/// inside it (`parse_line::{closure#0}`). Generic arguments are dropped first, so a `::`
/// inside them does not split the name.
pub(crate) fn short_fn(f: &str) -> String {
    let plain = simplify_path(f);
    let mut parts: Vec<&str> = plain.split("::").collect();
    let mut keep = Vec::new();
    while let Some(p) = parts.pop() {
        keep.push(p);
        if !p.starts_with('{') {
            break;
        }
    }
    keep.reverse();
    keep.join("::")
}

/// Builds the report; alloc-probe's own allocations meanwhile are not counted.
pub(crate) fn build() -> Report {
    let _ignore = guard::Ignore::new();
    let mode = config::mode();
    let stats = tally::totals();
    let epoch = crate::peak::peak_epoch();
    let unit = if mode == Mode::Sampled {
        UNIT_SAMPLED
    } else {
        UNIT_FULL
    };
    let rate = clock::ns_per_tick();
    let stack_limit = config::stack_limit();
    let mut symbols = Symbols::default();
    let mut by_site: HashMap<(String, u32, String), Classes> = HashMap::new();
    let mut by_fn_site: HashMap<(u32, String, u32, String), Classes> = HashMap::new();
    let mut stacks = Vec::new();

    for id in 1..=sites::count() {
        let Some(p) = sites::get(id) else { continue };
        if p.c.blocks.load(Relaxed) == 0 {
            continue;
        }
        let (frames, site_at) = point_frames(&mut symbols, p);
        let (site_phys, site) = site_of(&frames, site_at);
        let c = classify(p, site_phys, epoch, unit);
        let key = (short_path(&site.file), site.line, site.function.clone());
        let func = p.c.function.load(Relaxed);
        if func != 0 {
            by_fn_site
                .entry((func - 1, key.0.clone(), key.1, key.2.clone()))
                .or_default()
                .add(&c);
        }
        by_site.entry(key).or_default().add(&c);
        stacks.push(StackReport {
            frames: frames
                .iter()
                .enumerate()
                .map(|(i, (phys, f))| FrameReport {
                    function: f.function.clone(),
                    file: short_path(&f.file),
                    line: f.line,
                    inlined: frames.get(i + 1).is_some_and(|(next, _)| next == phys),
                })
                .collect(),
            site: site_at,
            allocs: c.blocks,
            bytes: c.bytes,
            live: c.leaked,
            live_bytes: c.leaked_bytes,
            stack_avoidable: c.stack_avoidable,
            escaped: c.escaped,
            total_lifetime_ns: (c.lifetime_ticks as f64 * rate) as u64,
            max_bytes: c.max_bytes,
            max_blocks: c.max_blocks,
            gmax_bytes: c.gmax_bytes,
            gmax_blocks: c.gmax_blocks,
        });
    }

    let mut sites: Vec<SiteReport> = by_site
        .into_iter()
        .map(|((file, line, function), c)| {
            let v = verdict(
                &c,
                &short_fn(&function),
                stack_limit,
                crate::stack::FRAME_TEST,
            );
            SiteReport {
                file,
                line,
                function,
                allocs: c.blocks,
                bytes: c.bytes,
                reallocs: c.reallocs,
                non_escaping: c.non_escaping,
                stack_avoidable: c.stack_avoidable,
                escaped: c.escaped,
                temporary: c.temporary,
                leaked: c.leaked,
                leaked_bytes: c.leaked_bytes,
                grown: c.grown,
                freed_elsewhere: c.freed_elsewhere,
                min_size: c.min_size,
                max_size: c.max_size,
                total_lifetime_ns: (c.lifetime_ticks as f64 * rate) as u64,
                max_bytes: c.max_bytes,
                max_blocks: c.max_blocks,
                gmax_bytes: c.gmax_bytes,
                gmax_blocks: c.gmax_blocks,
                verdict_kind: v.kind.to_string(),
                verdict: v.text,
            }
        })
        .collect();
    sites.sort_by(|a, b| {
        b.allocs
            .cmp(&a.allocs)
            .then(b.bytes.cmp(&a.bytes))
            .then_with(|| (&a.file, a.line).cmp(&(&b.file, b.line)))
    });
    stacks.sort_by(|a, b| b.allocs.cmp(&a.allocs).then(b.bytes.cmp(&a.bytes)));

    let binary = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "unknown".into());
    let functions = functions_report(by_fn_site, unit, rate, stack_limit);
    let tracking = tracking_cost(mode, &stats);
    Report {
        schema: SCHEMA.to_string(),
        tracking,
        version: SCHEMA_VERSION,
        binary,
        pid: std::process::id(),
        mode: mode.name().to_string(),
        sample_rate: (mode == Mode::Sampled).then(config::sample_rate),
        stack_limit,
        frame_test: crate::stack::FRAME_TEST,
        elapsed_ns: clock::ticks_to_ns(clock::ticks(), rate),
        peak_ns: clock::ticks_to_ns(crate::peak::peak_ticks(), rate),
        stats,
        sites,
        functions,
        stacks,
    }
}

fn tracking_cost(mode: Mode, stats: &crate::Stats) -> TrackingCost {
    if mode == Mode::Counts {
        return TrackingCost::default();
    }
    // Only `full` mode puts a header in front of blocks.
    let header_bytes = if mode == Mode::Full {
        stats.live_blocks * crate::blocks::HEADER as u64
    } else {
        0
    };
    let (stacks, stack_bytes) = sites::footprint();
    let side_bytes = crate::side::footprint() as u64;
    let total = header_bytes + stack_bytes + side_bytes;
    TrackingCost {
        header_bytes,
        stack_bytes,
        stacks,
        side_bytes,
        bytes_per_live_block: total as f64 / stats.live_blocks.max(1) as f64,
    }
}

fn site_of(frames: &[(usize, Frame)], at: usize) -> (usize, Frame) {
    frames.get(at).cloned().unwrap_or((
        0,
        Frame {
            function: "[unknown]".into(),
            file: String::new(),
            line: 0,
        },
    ))
}

/// Logical frames of a point with their physical index, alloc-probe's own frames dropped,
/// and the index of the site among them.
fn point_frames(symbols: &mut Symbols, p: &sites::Point) -> (Vec<(usize, Frame)>, usize) {
    let mut frames: Vec<(usize, Frame)> = Vec::new();
    for (i, &ip) in p.ips().iter().enumerate() {
        for f in symbols.frames(ip) {
            frames.push((i, f.clone()));
        }
    }
    let first_own = frames.iter().take_while(|(_, f)| f.is_probe()).count();
    frames.drain(..first_own);
    // The first frame of the program's own; for allocations the standard library makes on
    // its own (start-up, panics, backtraces), its first `std` frame, which says what for.
    let site_at = frames
        .iter()
        .position(|(_, f)| !f.is_internal())
        .or_else(|| {
            frames
                .iter()
                .position(|(_, f)| f.function.trim_start_matches('<').starts_with("std::"))
        })
        .unwrap_or(0);
    (frames, site_at)
}

/// `file:line in function (Nx)` for the sites of these points, for budget messages.
pub(crate) fn sites_of_points(points: &[u32]) -> Vec<String> {
    let mut symbols = Symbols::default();
    let mut seen: Vec<(String, usize)> = Vec::new();
    for &id in points {
        let Some(p) = sites::get(id) else { continue };
        let (frames, at) = point_frames(&mut symbols, p);
        let (_, f) = site_of(&frames, at);
        let s = format!(
            "{}:{} in {}",
            short_path(&f.file),
            f.line,
            short_fn(&f.function)
        );
        match seen.iter_mut().find(|(k, _)| *k == s) {
            Some((_, n)) => *n += 1,
            None => seen.push((s, 1)),
        }
    }
    seen.into_iter()
        .map(|(s, n)| if n > 1 { format!("{s} ({n}x)") } else { s })
        .collect()
}

/// A function path for matching: generic arguments dropped, `<T as Trait>::f` read as `T::f`.
pub(crate) fn simplify_path(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        // The matching `>`, minding nesting (`->` is not a bracket).
        let bytes = rest.as_bytes();
        let (mut depth, mut close) = (0usize, rest.len());
        for (i, &c) in bytes.iter().enumerate().skip(open) {
            match c {
                b'<' => depth += 1,
                b'>' if i > 0 && bytes[i - 1] == b'-' => {}
                b'>' => {
                    depth -= 1;
                    if depth == 0 {
                        close = i;
                        break;
                    }
                }
                _ => {}
            }
        }
        let inner = &rest[open + 1..close.min(rest.len())];
        // `<T as Trait>` names T; anything else in brackets is generic arguments.
        if let Some(i) = top_level_as(inner) {
            out.push_str(&simplify_path(&inner[..i]));
        }
        rest = rest.get(close + 1..).unwrap_or("");
    }
    out.push_str(rest);
    out.replace("::::", "::").trim_end_matches("::").to_string()
}

/// Where ` as ` stands outside any brackets in `s`.
fn top_level_as(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in s.char_indices() {
        match c {
            '<' => depth += 1,
            '>' => depth = depth.saturating_sub(1),
            ' ' if depth == 0 && s[i..].starts_with(" as ") => return Some(i),
            _ => {}
        }
    }
    None
}

fn functions_report(
    by_fn_site: HashMap<(u32, String, u32, String), Classes>,
    unit: u64,
    rate: f64,
    stack_limit: u64,
) -> Vec<FunctionReport> {
    let mut out = Vec::new();
    let mut fn_sites: HashMap<u32, Vec<FunctionSite>> = HashMap::new();
    for ((idx, file, line, function), c) in by_fn_site {
        let v = verdict(
            &c,
            &short_fn(&function),
            stack_limit,
            crate::stack::FRAME_TEST,
        );
        // The scan may list several expressions on the line (`v.push(x.to_string())`):
        // show the outermost, which contains the others, and every kind.
        let on_line: Vec<&crate::scope::SourceSite> = crate::functions::info(idx)
            .map(|info| {
                info.sites
                    .iter()
                    .filter(|s| {
                        s.line == line && (file.ends_with(info.file) || info.file.ends_with(&file))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let source = on_line.iter().max_by_key(|s| s.expr.len());
        let kinds: Vec<&str> = on_line.iter().map(|s| s.kind).collect();
        fn_sites.entry(idx).or_default().push(FunctionSite {
            file,
            line,
            function,
            allocs: c.blocks,
            bytes: c.bytes,
            reallocs: c.reallocs,
            non_escaping: c.non_escaping,
            stack_avoidable: c.stack_avoidable,
            escaped: c.escaped,
            temporary: c.temporary,
            verdict_kind: v.kind.to_string(),
            verdict: v.text,
            expr: source.map(|s| s.expr.to_string()),
            kind: (!kinds.is_empty()).then(|| kinds.join(", ")),
            column: source.map(|s| s.column),
        });
    }
    for idx in 0..crate::functions::count() {
        let Some(info) = crate::functions::info(idx) else {
            continue;
        };
        let t = crate::functions::totals(idx, tally::slots().map(|s| &s.fns));
        if t.calls == 0 {
            continue;
        }
        let mut sites = fn_sites.remove(&idx).unwrap_or_default();
        sites.sort_by(|a, b| b.allocs.cmp(&a.allocs).then(a.line.cmp(&b.line)));
        let path = (info.path)();
        // The macro's marker fn sits in the function; an async fn's body is a closure.
        let path = path.strip_suffix("::__alloc_probe_here").unwrap_or(path);
        let path = path
            .strip_suffix("::{{closure}}")
            .or_else(|| path.strip_suffix("::{closure#0}"))
            .unwrap_or(path)
            .to_string();
        let non_escaping = ((t.non_escaping + unit / 2) / unit).min(t.allocs);
        let calls = t.calls as f64;
        out.push(FunctionReport {
            name: info.name.to_string(),
            path,
            file: info.file.to_string(),
            line: info.line,
            calls: t.calls,
            allocs: t.allocs,
            bytes: t.bytes,
            reallocs: t.reallocs,
            non_escaping,
            stack_avoidable: ((t.stack_avoidable + unit / 2) / unit).min(non_escaping),
            escaped: t.allocs - non_escaping,
            inclusive_allocs: t.incl_allocs,
            inclusive_reallocs: t.incl_reallocs,
            inclusive_bytes: t.incl_bytes,
            allocs_per_call: (t.incl_allocs + t.incl_reallocs) as f64 / calls,
            bytes_per_call: t.incl_bytes as f64 / calls,
            max_live_bytes: t.max_live,
            ns_per_call: t.ticks as f64 * rate / t.timed.max(1) as f64,
            max_allocs: info.max_allocs,
            max_bytes: info.max_bytes,
            sites,
        });
    }
    out.sort_by(|a, b| {
        b.inclusive_allocs
            .cmp(&a.inclusive_allocs)
            .then_with(|| a.name.cmp(&b.name))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::{short_fn, simplify_path};

    #[test]
    fn paths_simplify_for_matching() {
        assert_eq!(simplify_path("a::b::Parser::parse"), "a::b::Parser::parse");
        assert_eq!(simplify_path("a::Stack<T>::push"), "a::Stack::push");
        assert_eq!(simplify_path("<a::Foo as a::Tr>::run"), "a::Foo::run");
        assert_eq!(
            simplify_path("<a::Foo<u8> as a::Tr<Vec<u8>>>::run::{{closure}}"),
            "a::Foo::run::{{closure}}"
        );
        assert_eq!(short_fn("a::b::parse::{closure#0}"), "parse::{closure#0}");
        assert_eq!(short_fn("a::b::parse"), "parse");
        assert_eq!(
            short_fn("a::run_test::<a::T, ()>::{closure#1}"),
            "run_test::{closure#1}"
        );
    }
}
