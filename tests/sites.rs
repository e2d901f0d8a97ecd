//! Call sites and classes at known lines, in a debug build; `sites_release` checks the same in
//! a release build.

#[global_allocator]
static ALLOC: alloc_probe::Probe = alloc_probe::Probe::system();

#[path = "scenarios/sites.rs"]
mod scenarios;

use alloc_probe::SiteReport;

const FILE: &str = "tests/scenarios/sites.rs";

fn site(line: u32) -> SiteReport {
    let r = alloc_probe::report();
    r.site(FILE, line).cloned().unwrap_or_else(|| {
        let mine: Vec<String> = r
            .sites()
            .iter()
            .filter(|s| s.file.ends_with("sites.rs"))
            .map(|s| format!("{}:{} {} ({} blocks)", s.file, s.line, s.function, s.allocs))
            .collect();
        panic!("no site at {FILE}:{line}; sites in this file: {mine:#?}")
    })
}

// The tests share one process and its report, so each scenario uses its own lines and the
// counts are exact per line, whatever runs in parallel.

#[test]
#[cfg_attr(
    windows,
    ignore = "no frame test on Windows x64: its frames form no chain"
)]
fn box_freed_in_place_is_stack_avoidable() {
    let line = scenarios::box_freed_in_place(1000);
    let s = site(line);
    assert_eq!((s.allocs, s.bytes), (1000, 24_000), "{s:#?}");
    assert_eq!(s.non_escaping, 1000, "{s:#?}");
    assert_eq!(s.stack_avoidable, 1000, "{s:#?}");
    assert_eq!((s.escaped, s.leaked, s.reallocs), (0, 0, 0), "{s:#?}");
    assert!(s.function.ends_with("box_freed_in_place"), "{s:#?}");
    assert_eq!(s.verdict_kind, "stack-avoidable");
    assert_eq!(
        s.verdict,
        "stack-avoidable (1000/1000, 24 B, freed in box_freed_in_place, frame test)"
    );
}

#[test]
#[cfg_attr(
    windows,
    ignore = "no frame test on Windows x64: its frames form no chain"
)]
fn a_site_inlined_into_its_caller_names_the_frame_tested() {
    let line = scenarios::inlined_site(40);
    let s = site(line);
    assert_eq!((s.allocs, s.non_escaping, s.in_call), (40, 40, 0), "{s:#?}");
    assert!(s.function.ends_with("boxed_inline"), "{s:#?}");
    // Whether a debug build inlines it is the compiler's choice; the verdict follows it.
    let expected = match &s.inlined_into {
        Some(host) => {
            assert!(host.ends_with("inlined_site"), "{s:#?}");
            "freed in inlined_site, frame test (boxed_inline is inlined there)"
        }
        None => "freed in boxed_inline, frame test",
    };
    assert!(
        s.verdict.ends_with(&format!("{expected})")),
        "{}",
        s.verdict
    );
}

#[test]
fn monomorphisations_of_one_line_are_one_site() {
    let line = scenarios::two_monomorphisations(50);
    let s = site(line);
    assert_eq!((s.allocs, s.bytes), (100, 50 * 2 + 50 * 16), "{s:#?}");
    assert!(s.function.ends_with("boxed_generic"), "{s:#?}");
    let r = alloc_probe::report();
    let rows = r
        .sites()
        .iter()
        .filter(|s| s.line == line && s.file.ends_with("scenarios/sites.rs"))
        .count();
    assert_eq!(rows, 1);
}

#[test]
#[cfg_attr(
    windows,
    ignore = "no frame test on Windows x64: its frames form no chain"
)]
fn box_returned_escapes() {
    let line = scenarios::box_returned(500);
    let s = site(line);
    assert_eq!((s.allocs, s.bytes), (500, 4000), "{s:#?}");
    assert_eq!((s.non_escaping, s.stack_avoidable), (0, 0), "{s:#?}");
    assert_eq!(s.escaped, 500, "{s:#?}");
    assert!(s.function.ends_with("make_box"), "{s:#?}");
    assert_eq!(s.verdict_kind, "escapes");
    assert!(
        s.verdict.contains("freed after it returned 100%"),
        "{}",
        s.verdict
    );
}

#[test]
#[cfg_attr(
    windows,
    ignore = "no frame test on Windows x64: its frames form no chain"
)]
fn growing_vec_is_a_reusable_buffer() {
    let line = scenarios::growing_vec(200);
    let s = site(line);
    assert_eq!(s.allocs, 200, "{s:#?}");
    assert_eq!(s.grown, 200, "{s:#?}");
    // Capacity 1 -> 4 -> 8 -> ... -> 128: six reallocs per vector.
    assert_eq!(s.reallocs, 200 * 6, "{s:#?}");
    assert_eq!(s.non_escaping, 200, "{s:#?}");
    assert_eq!(s.stack_avoidable, 0, "grown blocks never qualify: {s:#?}");
    assert_eq!(s.verdict_kind, "reusable-buffer");
    assert!(
        s.verdict.contains("reallocated 6.0 times per block"),
        "{}",
        s.verdict
    );
}

#[test]
#[cfg_attr(
    windows,
    ignore = "no frame test on Windows x64: its frames form no chain"
)]
fn big_temporary_is_non_escaping_but_not_stack_avoidable() {
    let line = scenarios::big_temporary(20);
    let s = site(line);
    assert_eq!((s.allocs, s.bytes), (20, 20 << 20), "{s:#?}");
    assert_eq!(s.temporary, 20, "{s:#?}");
    assert_eq!(s.non_escaping, 20, "{s:#?}");
    assert_eq!(s.stack_avoidable, 0, "{s:#?}");
    assert_eq!(s.verdict_kind, "non-escaping");
    assert!(
        s.verdict.contains("1.0 MiB > stack limit 4.0 KiB"),
        "{}",
        s.verdict
    );
}

#[test]
fn forgotten_boxes_are_leaked() {
    let line = scenarios::leak(30);
    let s = site(line);
    assert_eq!(
        (s.allocs, s.leaked, s.leaked_bytes),
        (30, 30, 480),
        "{s:#?}"
    );
    assert_eq!(s.escaped, 30, "{s:#?}");
    assert_eq!(s.verdict_kind, "leaked");
}

#[test]
fn blocks_freed_on_another_thread_escape() {
    let line = scenarios::sent_to_thread(64);
    let s = site(line);
    assert_eq!(s.allocs, 64, "{s:#?}");
    assert_eq!(s.freed_elsewhere, 64, "{s:#?}");
    assert_eq!((s.escaped, s.non_escaping), (64, 0), "{s:#?}");
    assert!(
        s.verdict.contains("freed on another thread 100%"),
        "{}",
        s.verdict
    );
}

#[test]
fn lifetimes_across_threads_are_read_on_one_clock() {
    let start = std::time::Instant::now();
    let line = scenarios::sent_to_stale_thread(32);
    let elapsed = start.elapsed().as_nanos() as u64;
    let s = site(line);
    assert_eq!((s.allocs, s.freed_elsewhere), (32, 32), "{s:#?}");
    // Each block lived less than the scenario took: a lifetime read on the freeing thread's
    // older clock would come out negative, and wrap to hours.
    assert!(
        s.total_lifetime_ns <= 32 * elapsed,
        "{s:#?} in {elapsed} ns"
    );
}

#[test]
#[cfg_attr(
    windows,
    ignore = "no frame test on Windows x64: its frames form no chain"
)]
fn unwinding_frees_before_the_frame_is_gone() {
    let line = scenarios::freed_by_unwinding(10);
    let s = site(line);
    assert_eq!(s.allocs, 10, "{s:#?}");
    assert_eq!(s.non_escaping, 10, "{s:#?}");
    assert_eq!(s.stack_avoidable, 10, "{s:#?}");
}

#[test]
#[cfg_attr(
    windows,
    ignore = "no frame test on Windows x64: its frames form no chain"
)]
fn the_frame_test_can_be_fooled_by_a_later_call_at_the_same_depth() {
    let line = scenarios::fooled_frame_test(100);
    let s = site(line);
    assert_eq!(s.allocs, 100, "{s:#?}");
    // 99 blocks were freed by the next call of the same function from the same place: they
    // escaped, but the frame test sees "the same frame" and calls them non-escaping. The last
    // one is freed by the caller after the function returned: correctly escaped. Inside a
    // #[track_allocs] function invocations are matched exactly, which has no such blind spot.
    assert_eq!(s.non_escaping, 99, "{s:#?}");
    assert_eq!(s.escaped, 1, "{s:#?}");
}

#[test]
fn two_callers_at_the_same_depth_are_two_stacks() {
    // The walk's guess of the stack (by where it starts) is the other caller's stack every
    // time; only comparing the whole stack keeps the two apart.
    let line = scenarios::two_callers_alternating(300);
    let s = site(line);
    assert_eq!(s.allocs, 600, "{s:#?}");
    let by_caller = scenarios::stacks_by_caller(&alloc_probe::report(), line);
    assert_eq!(by_caller.len(), 2, "{by_caller:#?}");
    assert!(
        by_caller.iter().all(|(f, _)| f.ends_with("::via")),
        "{by_caller:#?}"
    );
    assert_eq!(
        (by_caller[0].1, by_caller[1].1),
        (300, 300),
        "{by_caller:#?}"
    );
}

#[test]
fn report_totals_match_stats_and_render() {
    scenarios::box_freed_in_place(10);
    let r = alloc_probe::report();
    assert_eq!(r.schema, alloc_probe::REPORT_SCHEMA);
    assert_eq!(r.mode, "full");
    let text = r.to_string();
    assert!(text.lines().count() < 60, "{text}");
    assert!(text.contains("Top sites by blocks"), "{text}");
    let dir = std::env::temp_dir().join(format!("alloc-probe-test-{}", std::process::id()));
    let path = dir.join("r.json");
    r.write_json(&path).unwrap();
    let back = alloc_probe::Report::read_json(&path).unwrap();
    assert_eq!(back.sites, r.sites);
    std::fs::remove_dir_all(dir).unwrap();
}
