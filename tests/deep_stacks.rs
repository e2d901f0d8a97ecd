//! Deep stacks keep their frames: deeper than the 48 frames once kept, every one; deeper than
//! the depth limit, the innermost ones under a `(truncated)` root, as Go's profiles mark cut
//! stacks. The oracle is the program itself: it knows how deep it recursed and how many
//! blocks it allocated there.

#[global_allocator]
static ALLOC: alloc_probe::Probe = alloc_probe::Probe::system();

use std::hint::black_box;

use alloc_probe::{Report, StackReport};

/// Recurses `depth` frames of `descend`, then calls `leaf`.
#[inline(never)]
fn descend(depth: u32, leaf: fn() -> u64) -> u64 {
    if depth > 1 {
        // Not a tail call: each frame stays on the stack.
        return black_box(descend(depth - 1, leaf)) + 1;
    }
    leaf()
}

const BLOCKS: u64 = 300;

#[inline(never)]
fn leaf_150() -> u64 {
    (0..BLOCKS).map(|i| *black_box(Box::new(i))).sum()
}

#[inline(never)]
fn leaf_400() -> u64 {
    (0..BLOCKS).map(|i| *black_box(Box::new(i))).sum()
}

/// The frames' function names of each stack whose site is in function `leaf`, after checking
/// that those stacks hold exactly the leaf's blocks.
fn stacks_in(r: &Report, leaf: &str) -> Vec<Vec<String>> {
    let stacks: Vec<(&StackReport, Vec<String>)> = r
        .stacks
        .iter()
        .filter_map(|s| {
            let frames: Vec<String> = r.frames_of(s).iter().map(|f| f.function.clone()).collect();
            let site = frames.get(s.site)?;
            site.contains(leaf).then_some((s, frames))
        })
        .collect();
    assert!(!stacks.is_empty(), "no stack at {leaf}");
    let allocs: u64 = stacks.iter().map(|(s, _)| s.allocs).sum();
    assert_eq!(allocs, BLOCKS, "{leaf}: counts stay exact");
    stacks.into_iter().map(|(_, frames)| frames).collect()
}

fn count(frames: &[String], name: &str) -> usize {
    frames.iter().filter(|f| f.ends_with(name)).count()
}

#[test]
fn a_stack_150_frames_deep_keeps_every_frame() {
    black_box(descend(150, leaf_150));
    let r = alloc_probe::report();
    for frames in &stacks_in(&r, "leaf_150") {
        assert_eq!(count(frames, "::descend"), 150, "{frames:#?}");
        assert!(!frames.iter().any(|f| f == "(truncated)"), "{frames:#?}");
        // On past the recursion to the test's own frame.
        assert!(
            frames
                .iter()
                .any(|f| f.ends_with("a_stack_150_frames_deep_keeps_every_frame")),
            "{frames:#?}"
        );
    }
}

#[test]
fn a_stack_past_the_depth_limit_is_marked_cut() {
    black_box(descend(400, leaf_400));
    let r = alloc_probe::report();
    for frames in &stacks_in(&r, "leaf_400") {
        assert_eq!(frames.last().map(String::as_str), Some("(truncated)"));
        let kept = count(frames, "::descend");
        assert!((200..400).contains(&kept), "{kept} descend frames kept");
    }
    let svg = std::env::temp_dir().join(format!("alloc-probe-deep-{}.svg", std::process::id()));
    r.write_flamegraph(&svg, alloc_probe::FlameCost::Blocks)
        .unwrap();
    let text = std::fs::read_to_string(&svg).unwrap();
    let _ = std::fs::remove_file(&svg);
    assert!(
        text.contains("(truncated)"),
        "the flame graph shows the cut"
    );
}
