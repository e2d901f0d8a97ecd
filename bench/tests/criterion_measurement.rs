//! `alloc_probe::criterion`'s measurements count what the routine does on the measuring
//! thread, and nothing another thread does meanwhile.

use alloc_probe::criterion::{AllocatedBytes, Allocations};
use criterion::measurement::Measurement;
use std::hint::black_box;

#[global_allocator]
static ALLOC: alloc_probe::Probe = alloc_probe::Probe::system();

/// Three boxes of 8 bytes and a vector of 16 grown once to 64: 4 allocs, 1 realloc.
fn routine() {
    for _ in 0..3 {
        drop(black_box(Box::new(0u64)));
    }
    let mut v: Vec<u8> = Vec::with_capacity(16);
    v.extend_from_slice(&[1; 16]);
    v.reserve_exact(48);
    black_box(v);
}

#[test]
fn counts_are_the_routine_s() {
    let busy = std::sync::atomic::AtomicBool::new(true);
    std::thread::scope(|s| {
        // Another thread allocating meanwhile is not counted.
        s.spawn(|| {
            while busy.load(std::sync::atomic::Ordering::Relaxed) {
                drop(black_box(vec![0u8; 32]));
            }
        });
        let (a, b) = (Allocations.start(), AllocatedBytes.start());
        routine();
        let (events, bytes) = (Allocations.end(a), AllocatedBytes.end(b));
        busy.store(false, std::sync::atomic::Ordering::Relaxed);
        assert_eq!(events, 5, "4 allocs and 1 realloc");
        assert_eq!(bytes, 3 * 8 + 16 + 64);
    });
}
