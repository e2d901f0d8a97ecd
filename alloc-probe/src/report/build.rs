//! Builds a [`Report`] from the live tables.

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;

use super::{FrameReport, Report, SiteReport, StackReport, TrackingCost, SCHEMA, SCHEMA_VERSION};
use crate::classify::{classify, verdict, Classes};
use crate::config::{self, Mode};
use crate::sites::{self, UNIT_FULL, UNIT_SAMPLED};
use crate::symbolize::{short_path, Frame, Symbols};
use crate::tally::PEAK_EPOCH;
use crate::{clock, guard, tally};

/// The short name of a function for verdicts: its last path segment, with the closures
/// inside it (`parse_line::{closure#0}`).
pub(crate) fn short_fn(f: &str) -> String {
    let mut parts: Vec<&str> = f.split("::").collect();
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
    let epoch = PEAK_EPOCH.load(Relaxed);
    let unit = if mode == Mode::Sampled {
        UNIT_SAMPLED
    } else {
        UNIT_FULL
    };
    let rate = clock::ns_per_tick();
    let stack_limit = config::stack_limit();
    let mut symbols = Symbols::default();
    let mut by_site: HashMap<(String, u32, String), Classes> = HashMap::new();
    let mut stacks = Vec::new();

    for id in 1..=sites::count() {
        let Some(p) = sites::get(id) else { continue };
        if p.c.blocks.load(Relaxed) == 0 {
            continue;
        }
        // Logical frames with the physical frame each came from.
        let mut frames: Vec<(usize, Frame)> = Vec::new();
        for (i, &ip) in p.ips().iter().enumerate() {
            for f in symbols.frames(ip) {
                frames.push((i, f.clone()));
            }
        }
        // Drop the probe's own frames from the leaf end.
        let first_own = frames.iter().take_while(|(_, f)| f.is_probe()).count();
        let frames = &frames[first_own..];
        let site_at = frames
            .iter()
            .position(|(_, f)| !f.is_internal())
            .unwrap_or(0);
        let (site_phys, site) = frames.get(site_at).cloned().unwrap_or((
            0,
            Frame {
                function: "[unknown]".into(),
                file: String::new(),
                line: 0,
            },
        ));
        let c = classify(p, site_phys, epoch, unit);
        let key = (short_path(&site.file), site.line, site.function.clone());
        by_site.entry(key).or_default().add(&c);
        stacks.push(StackReport {
            frames: frames
                .iter()
                .map(|(_, f)| FrameReport {
                    function: f.function.clone(),
                    file: short_path(&f.file),
                    line: f.line,
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
            let v = verdict(&c, &short_fn(&function), stack_limit);
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
        elapsed_ns: clock::ticks_to_ns(clock::ticks(), rate),
        stats,
        sites,
        stacks,
    }
}

fn tracking_cost(mode: Mode, stats: &crate::Stats) -> TrackingCost {
    if mode == Mode::Counts {
        return TrackingCost::default();
    }
    let header_bytes = stats.live_blocks * crate::blocks::HEADER as u64;
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
