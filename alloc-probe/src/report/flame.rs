//! Flame graphs: the report's stacks as collapsed stacks (`root;...;leaf count`), drawn by
//! inferno into an SVG.
//!
//! Whole stacks are drawn, the allocator's own frames on top, as memory flame graphs usually
//! are: they tell a `Box::new` from a growing `Vec`. Frames are function names; a `;` inside
//! one (an array type such as `[u8; 4]`) is written `,` since `;` separates frames.
//!
//! A cost nothing in the report has (no leaks, say) still gives a valid SVG, with the title
//! and a line saying there is nothing to draw, rather than an error: a script that writes
//! every cost for every test should not fail on a clean run.

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::Path;

use inferno::flamegraph::color::{BasicPalette, Palette};
use inferno::flamegraph::{self, Options};

use super::model::{Fast, Report, StackReport};

/// What the widths of a flame graph measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlameCost {
    /// Blocks allocated.
    Blocks,
    /// Bytes allocated (reallocations' new sizes included).
    Bytes,
    /// Blocks that could have lived on the stack.
    StackAvoidable,
    /// Bytes still live when the report was made.
    LeakedBytes,
}

impl FlameCost {
    fn of(self, s: &StackReport) -> u64 {
        match self {
            FlameCost::Blocks => s.allocs,
            FlameCost::Bytes => s.bytes,
            FlameCost::StackAvoidable => s.stack_avoidable,
            FlameCost::LeakedBytes => s.live_bytes,
        }
    }

    /// The title: what is measured.
    fn title(self) -> &'static str {
        match self {
            FlameCost::Blocks => "Allocated blocks",
            FlameCost::Bytes => "Allocated bytes",
            FlameCost::StackAvoidable => "Stack-avoidable blocks",
            FlameCost::LeakedBytes => "Leaked bytes (live at the report)",
        }
    }

    /// The unit in the tooltips.
    fn unit(self) -> &'static str {
        match self {
            FlameCost::Blocks | FlameCost::StackAvoidable => "blocks",
            FlameCost::Bytes | FlameCost::LeakedBytes => "bytes",
        }
    }
}

impl Report {
    /// Writes a flame graph SVG whose widths are `cost`. With nothing of that cost, the SVG
    /// says so instead of drawing.
    pub fn write_flamegraph(&self, path: impl AsRef<Path>, cost: FlameCost) -> io::Result<()> {
        write(self, path.as_ref(), cost)
    }
}

fn write(r: &Report, path: &Path, cost: FlameCost) -> io::Result<()> {
    let _ignore = crate::sys::guard::Ignore::new();
    let lines = collapsed(r, cost);
    let total: u64 = r
        .stacks
        .iter()
        .map(|s| cost.of(s))
        .fold(0, u64::saturating_add);
    let title = format!("alloc-probe: {}", cost.title());
    let subtitle = format!(
        "{} ({} mode): {total} {} in total",
        r.binary,
        r.mode,
        cost.unit()
    );
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut out = io::BufWriter::new(std::fs::File::create(path)?);
    if lines.is_empty() {
        let note = format!("Nothing to draw: no {} in this report.", cost.title());
        empty_svg(&mut out, &title, &subtitle, &note)?;
    } else {
        let mut opt = Options::default();
        opt.title = title;
        opt.subtitle = Some(subtitle);
        opt.count_name = cost.unit().to_string();
        opt.colors = Palette::Basic(BasicPalette::Mem);
        // Colours from the function names: the same function looks the same in every graph.
        opt.hash = true;
        flamegraph::from_lines(&mut opt, lines.iter().map(String::as_str), &mut out)?;
    }
    out.flush()
}

/// The collapsed stacks with a non-zero cost, root first, sorted as inferno wants them (stacks
/// that share callers next to each other, callees in name order).
///
/// Stacks are merged and sorted as sequences of name ranks, not as strings: a program's
/// stacks share long runs of callers, and comparing their strings compared those runs again
/// and again (15 s for syn's 265,000 stacks).
fn collapsed(r: &Report, cost: FlameCost) -> Vec<String> {
    // Each distinct function name once (`;` separates frames, so it is written `,`).
    let names: Vec<String> = r
        .frames
        .iter()
        .map(|f| f.function.replace(';', ","))
        .collect();
    let mut sorted: Vec<&str> = names.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    sorted.dedup();
    let rank: Vec<u32> = names
        .iter()
        .map(|n| sorted.binary_search(&n.as_str()).unwrap_or(0) as u32)
        .collect();
    let mut stacks: HashMap<Vec<u32>, u64, Fast> = HashMap::default();
    for s in &r.stacks {
        let n = cost.of(s);
        if n == 0 {
            continue;
        }
        let key: Vec<u32> = r
            .frame_ids_of(s)
            .iter()
            .rev()
            .filter_map(|&f| rank.get(f as usize).copied())
            .collect();
        let total = stacks.entry(key).or_default();
        *total = total.saturating_add(n);
    }
    let mut rows: Vec<(Vec<u32>, u64)> = stacks.into_iter().collect();
    rows.sort_unstable();
    rows.into_iter()
        .map(|(key, n)| {
            let mut line = String::new();
            for (i, &r) in key.iter().enumerate() {
                if i > 0 {
                    line.push(';');
                }
                line.push_str(sorted[r as usize]);
            }
            line.push(' ');
            line.push_str(&n.to_string());
            line
        })
        .collect()
}

/// A small SVG with the title and a note, for a profile with nothing to draw.
fn empty_svg(out: &mut impl Write, title: &str, subtitle: &str, note: &str) -> io::Result<()> {
    let (title, subtitle, note) = (xml(title), xml(subtitle), xml(note));
    let text = r#"text-anchor="middle" font-family="Verdana" fill="rgb(0,0,0)""#;
    write!(
        out,
        r#"<?xml version="1.0" standalone="no"?>
<svg version="1.1" width="1200" height="100" viewBox="0 0 1200 100" xmlns="http://www.w3.org/2000/svg">
<title>{title}</title>
<rect x="0" y="0" width="100%" height="100%" fill="rgb(238,238,238)"/>
<text x="600" y="24" {text} font-size="17">{title}</text>
<text x="600" y="48" {text} font-size="12">{subtitle}</text>
<text x="600" y="78" {text} font-size="12">{note}</text>
</svg>
"#
    )
}

/// Escapes text for XML.
fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::FrameReport;

    #[test]
    fn collapses_root_first_and_merges_equal_stacks() {
        let stack = |leaf: &str, line, allocs| {
            let frames = [leaf, "x::caller", "x::main"]
                .iter()
                .map(|f| FrameReport {
                    function: f.to_string(),
                    file: String::new(),
                    line,
                    inlined: false,
                    line_of_function: false,
                })
                .collect();
            let s = StackReport {
                allocs,
                ..StackReport::default()
            };
            (frames, s)
        };
        // Lines are not drawn: the two stacks are one.
        let r = crate::report::merge::with_stacks(vec![
            stack("<[u8; 4]>::f", 1, 2),
            stack("<[u8; 4]>::f", 2, 3),
        ]);
        assert_eq!(
            collapsed(&r, FlameCost::Blocks),
            ["x::main;x::caller;<[u8, 4]>::f 5"]
        );
        assert!(collapsed(&r, FlameCost::Bytes).is_empty());
    }
}
