//! Builds a [`Report`] from the live tables.

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;

use super::classify::{classify, verdict, Classes};
use super::model::{
    FrameReport, FunctionReport, FunctionSite, Report, SiteReport, StackReport, TrackingCost,
    SCHEMA, SCHEMA_VERSION,
};
use super::names::{short_fn, short_path};
use super::symbols::{Frame, Symbols};
use crate::counters::{self, peak, Stats};
use crate::sys::settings::{self, Mode};
use crate::sys::stack::FRAME_POINTERS;
use crate::sys::{clock, guard};
use crate::thread;
use crate::tracking::functions::{self, SourceSite};
use crate::tracking::header::HEADER;
use crate::tracking::points::{self, UNIT_FULL, UNIT_SAMPLED};
use crate::tracking::side;

/// Builds the report; alloc-probe's own allocations meanwhile are not counted.
pub(crate) fn build() -> Report {
    let _ignore = guard::Ignore::new();
    let mode = settings::mode().unwrap_or(Mode::Full);
    let stats = counters::totals();
    let epoch = peak::epoch();
    let unit = if mode == Mode::Sampled {
        UNIT_SAMPLED
    } else {
        UNIT_FULL
    };
    let rate = clock::ns_per_tick();
    let stack_limit = settings::stack_limit();
    let mut symbols = Symbols::default();
    let mut by_site: HashMap<(String, u32, String), Classes> = HashMap::new();
    let mut by_fn_site: HashMap<(u32, String, u32, String), Classes> = HashMap::new();
    let mut stacks = Vec::new();

    for id in 1..=points::count() {
        let Some(p) = points::get(id) else { continue };
        if p.c.blocks.get() == 0 {
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
            let v = verdict(&c, &short_fn(&function), stack_limit, FRAME_POINTERS);
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
        sample_rate: (mode == Mode::Sampled).then(settings::sample_rate),
        stack_limit,
        frame_test: FRAME_POINTERS,
        elapsed_ns: clock::ticks_to_ns(clock::ticks(), rate),
        peak_ns: clock::ticks_to_ns(peak::ticks(), rate),
        stats,
        sites,
        functions,
        stacks,
    }
}

fn tracking_cost(mode: Mode, stats: &Stats) -> TrackingCost {
    if mode == Mode::Counts {
        return TrackingCost::default();
    }
    // Only `full` mode puts a header in front of blocks.
    let header_bytes = if mode == Mode::Full {
        stats.live_blocks * HEADER as u64
    } else {
        0
    };
    let (stacks, stack_bytes) = points::footprint();
    let side_bytes = side::footprint() as u64;
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
fn point_frames(symbols: &mut Symbols, p: &points::Point) -> (Vec<(usize, Frame)>, usize) {
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
        let Some(p) = points::get(id) else { continue };
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

fn functions_report(
    by_fn_site: HashMap<(u32, String, u32, String), Classes>,
    unit: u64,
    rate: f64,
    stack_limit: u64,
) -> Vec<FunctionReport> {
    let mut out = Vec::new();
    let mut fn_sites: HashMap<u32, Vec<FunctionSite>> = HashMap::new();
    for ((idx, file, line, function), c) in by_fn_site {
        let v = verdict(&c, &short_fn(&function), stack_limit, FRAME_POINTERS);
        // The scan may list several expressions on the line (`v.push(x.to_string())`):
        // show the outermost, which contains the others, and every kind.
        let on_line: Vec<&SourceSite> = functions::info(idx)
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
    for idx in 0..functions::count() {
        let Some(info) = functions::info(idx) else {
            continue;
        };
        let t = functions::totals(idx, thread::slots().map(|s| s.fns()));
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
