//! The counting suite on jemalloc, plus jemalloc's own figures.
#![cfg(not(windows))] // jemalloc does not build for Windows

#[global_allocator]
static ALLOC: alloc_probe::Probe<alloc_probe::Jemalloc> =
    alloc_probe::Probe::new(alloc_probe::Jemalloc);

#[path = "../../tests/suite/counts.rs"]
mod counts;
#[path = "../../tests/suite/threads.rs"]
mod threads;

#[test]
fn jemalloc_figures_sit_next_to_ours() {
    let keep = std::hint::black_box(vec![1u8; 8 << 20]);
    let ours = alloc_probe::stats();
    let je = alloc_probe::jemalloc_stats().expect("jemalloc stats");
    // jemalloc's allocated bytes include its size-class rounding of our requests, and other
    // test threads run at the same time, so compare orders of magnitude only.
    assert!(je.allocated >= 8 << 20, "{je:?}");
    assert!(je.active >= je.allocated, "{je:?}");
    assert!(je.resident >= 8 << 20, "{je:?}");
    assert!(je.mapped >= je.active, "{je:?}");
    assert!(ours.live_bytes >= 8 << 20);
    drop(keep);
}
