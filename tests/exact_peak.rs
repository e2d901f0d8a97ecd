//! The peak stays exact while several threads allocate at once (see `alloc-probe/src/peak.rs`:
//! per-thread shares, grants, and settlements that freeze the other threads).
//!
//! The program's peak is known by construction. In each round, four threads first churn small
//! blocks (each holds at most one, 256 bytes at most), wait for each other, then each grows a
//! large block of a size that changes from round to round (an allocation, then a realloc that
//! doubles it), wait until all of them hold theirs, free them, and wait again. So the live
//! bytes peak exactly when every thread holds its large block, and the process's peak is what
//! was live between rounds plus the largest sum of one round's large blocks. Every round
//! makes the threads pass their grants in a different order, and the sum peaks in only a few
//! rounds, so a settlement that missed a change would show.
//!
//! A plain `main` (no test harness threads), running itself as a child once per mode.

use std::hint::black_box;
use std::sync::{Arc, Barrier};

#[path = "support/rerun.rs"]
mod rerun;

#[global_allocator]
static ALLOC: alloc_probe::Probe = alloc_probe::Probe::system();

const THREADS: usize = 4;
const ROUNDS: usize = 300;

/// The final size of thread `t`'s large block in round `r`. In the first half, from 64 KiB to
/// 1 MiB, in an order that differs between threads: big steps. In the second half, 1 MiB plus
/// less than 8 KiB, so the sum passes the peak by a few kilobytes at a time: a grant counted
/// twice would hide such a step.
fn size(r: usize, t: usize) -> usize {
    if r < ROUNDS / 2 {
        (1 + (r * 7 + t * 13 + (r * t) % 5) % 16) << 16
    } else {
        (1 << 20) + (r * 7919 + t * 104_729) % 8192 / 16 * 16
    }
}

fn worker(t: usize, start: &Barrier) {
    // A first round settles whatever the thread allocates once (and whatever it frees of what
    // its start allocated); the main thread reads the base after it.
    round(t, 0, 1 << 12, start);
    start.wait();
    for r in 0..ROUNDS {
        round(t, r, size(r, t), start);
    }
    start.wait(); // the main thread reads the end
}

/// One round of thread `t`: churn, then a large block of `n` bytes held while the others hold
/// theirs.
fn round(t: usize, r: usize, n: usize, start: &Barrier) {
    for i in 0..(200 + 50 * t) {
        black_box(vec![i as u8; 1 + (i * 31 + r) % 256]);
    }
    start.wait();
    let mut v: Vec<u8> = Vec::with_capacity(n / 2);
    v.resize(n / 2, 1);
    v.reserve_exact(n / 2); // a realloc to `n`
    assert_eq!(v.capacity(), n);
    let v = black_box(v);
    start.wait(); // every thread holds its block
    drop(v);
    start.wait();
}

fn child() {
    // A failed assertion in a worker would leave the others waiting at a barrier forever.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("{info}");
        std::process::abort();
    }));
    let start = Arc::new(Barrier::new(THREADS + 1));
    let hs: Vec<_> = (0..THREADS)
        .map(|t| {
            let b = start.clone();
            std::thread::spawn(move || worker(t, &b))
        })
        .collect();
    for _ in 0..3 {
        start.wait(); // the first round
    }
    let base = alloc_probe::stats();
    start.wait();
    let mut most = 0;
    for r in 0..ROUNDS {
        start.wait();
        start.wait();
        let round: usize = (0..THREADS).map(|t| size(r, t)).sum();
        most = most.max(round);
        start.wait();
    }
    let end = alloc_probe::stats();
    start.wait();
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(end.live_bytes, base.live_bytes, "{base:?}\n{end:?}");
    let want = base.peak_live_bytes.max(base.live_bytes + most as u64);
    assert_eq!(
        end.peak_live_bytes,
        want,
        "peak off by {} bytes: {end:?}",
        end.peak_live_bytes as i64 - want as i64
    );
}

fn main() {
    rerun::main("exact_peak", &["counts", "sampled", "full"], 3, &[], child);
}
