//! The switch from one writer to many (see `alloc-probe/src/counters/solo.rs`): while the main
//! thread allocates as the solo writer, other threads start allocating; no update of the live bytes
//! behind the peak may be lost, and the peak stays exact. A plain `main` (no test harness, whose
//! threads would make the process shared from the start), run 30 times as a child process in
//! each mode (`counts` and `sampled`'s unsampled blocks count without an update section,
//! tracked blocks within one).

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;

#[path = "support/rerun.rs"]
mod rerun;

#[global_allocator]
static ALLOC: alloc_probe::Probe = alloc_probe::Probe::system();

fn child() {
    // The solo writer: exact peak with plain updates.
    let base = alloc_probe::stats();
    let big = black_box(vec![1u8; 8 << 20]);
    drop(big);
    let after = alloc_probe::stats();
    assert_eq!(
        after.peak_live_bytes,
        base.live_bytes
            .max(base.peak_live_bytes)
            .max(base.live_bytes + (8 << 20))
    );
    assert_eq!(alloc_probe::testing::live_counter(), after.live_bytes);

    // Other threads start while the main thread keeps allocating.
    let stop = Arc::new(AtomicBool::new(false));
    let busy = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Relaxed) {
                black_box(vec![n as u8; 24]);
                n += 1;
            }
        })
    };
    let workers: Vec<_> = (0..3)
        .map(|t| {
            std::thread::spawn(move || {
                for i in 0..20_000u32 {
                    black_box(Box::new([i, t]));
                }
            })
        })
        .collect();
    // The peak never goes down, also while the switch is under way.
    let mut last = 0;
    for i in 0..200_000u32 {
        black_box(Box::new(i));
        if i % 500 == 0 {
            let p = alloc_probe::stats().peak_live_bytes;
            assert!(p >= last, "the peak went down from {last} to {p}");
            last = p;
        }
    }
    for w in workers {
        w.join().unwrap();
    }
    stop.store(true, Relaxed);
    busy.join().unwrap();
    let end = alloc_probe::stats();
    assert_eq!(
        alloc_probe::testing::live_counter(),
        end.live_bytes,
        "an update of the live bytes behind the peak was lost: {end:?}"
    );
    assert!(end.peak_live_bytes >= base.live_bytes + (8 << 20));
}

fn main() {
    rerun::main(
        "solo_to_shared",
        &["counts", "sampled", "full"],
        30,
        &[],
        child,
    );
}
