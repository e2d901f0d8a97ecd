//! Exact counts on workloads whose counts are known by construction. Included by each
//! backend's test binary, which installs its own global allocator.

use std::hint::black_box;

use alloc_probe::{allocs_per_run, measure};

#[test]
fn n_boxes() {
    let ((), s) = measure(|| {
        for i in 0..1000u64 {
            drop(black_box(Box::new(i)));
        }
    });
    assert_eq!(s.allocs, 1000);
    assert_eq!(s.deallocs, 1000);
    assert_eq!(s.reallocs, 0);
    assert_eq!(s.bytes_allocated, 8000);
    assert_eq!(s.bytes_deallocated, 8000);
    assert_eq!(s.live_blocks, 0);
    assert_eq!(s.live_bytes, 0);
    assert_eq!(s.peak_live_bytes, 8);
}

#[test]
fn live_boxes_and_peak() {
    let (boxes, s) = measure(|| {
        (0..100u32)
            .map(|i| black_box(Box::new([i; 4])))
            .collect::<Vec<_>>()
    });
    // 100 boxes of 16 bytes, plus the Vec's one exact-size buffer (collect knows the length).
    assert_eq!(s.allocs, 101);
    assert_eq!(s.reallocs, 0);
    assert_eq!(s.live_blocks, 101);
    assert_eq!(s.live_bytes, 1600 + 100 * 8);
    assert_eq!(s.peak_live_bytes, s.live_bytes);
    let ((), s2) = measure(|| drop(boxes));
    assert_eq!(s2.deallocs, 101);
    assert_eq!(s2.bytes_deallocated, 2400);
    assert_eq!(
        s2.live_bytes, 0,
        "a measure that only frees saturates at zero"
    );
    assert_eq!(s2.peak_live_bytes, 0);
}

#[test]
fn growing_vec_matches_its_observed_capacity_changes() {
    let ((changes, bytes, cap), s) = measure(|| {
        let mut v: Vec<u64> = Vec::new();
        let mut changes = 0u64;
        let mut bytes = 0u64;
        let mut cap = v.capacity();
        for i in 0..10_000 {
            v.push(black_box(i));
            if v.capacity() != cap {
                cap = v.capacity();
                changes += 1;
                bytes += cap as u64 * 8;
            }
        }
        (changes, bytes, cap)
    });
    // The first capacity change is an allocation, every later one a realloc; the Vec is
    // dropped inside the closure.
    assert_eq!(s.allocs, 1);
    assert_eq!(s.reallocs, changes - 1);
    assert_eq!(s.bytes_allocated, bytes);
    assert_eq!(s.deallocs, 1);
    assert_eq!(
        s.bytes_deallocated, bytes,
        "reallocs free the old size, the drop the last"
    );
    assert_eq!(s.peak_live_bytes, cap as u64 * 8);
}

#[test]
fn strings() {
    let (s1, s) = measure(|| {
        let a = String::from("hello");
        let b = format!("{a}, world {}", black_box(42));
        let mut c = String::with_capacity(64);
        c.push_str(&b);
        c
    });
    assert_eq!(s.allocs, 3);
    assert_eq!(s.deallocs, 2);
    assert_eq!(s.live_blocks, 1);
    assert_eq!(s.live_bytes, 64);
    assert_eq!(s1, "hello, world 42");
}

#[test]
fn zero_sized_and_zeroed() {
    let ((), s) = measure(|| {
        let v: Vec<()> = black_box(Vec::with_capacity(100));
        drop(v);
        let z = black_box(vec![0u8; 4096]);
        drop(z);
    });
    // A Vec of zero-sized values never allocates; vec![0; n] uses alloc_zeroed.
    assert_eq!(s.allocs, 1);
    assert_eq!(s.bytes_allocated, 4096);
}

#[test]
fn allocs_per_run_is_exact() {
    assert_eq!(allocs_per_run(100, || drop(black_box(Box::new(1u8)))), 1.0);
    assert_eq!(
        allocs_per_run(100, || {
            black_box(1u8);
        }),
        0.0
    );
    assert_eq!(
        allocs_per_run(100, || {
            drop(black_box(Box::new(1u8)));
            drop(black_box(String::from("x")));
        }),
        2.0
    );
    // A growth counts as an event: one alloc and one realloc per run.
    assert_eq!(
        allocs_per_run(50, || {
            let mut v = black_box(Vec::with_capacity(1));
            v.push(1u8);
            v.push(2u8);
            black_box(v);
        }),
        2.0
    );
    // One warm-up call, then the runs.
    let mut calls = 0;
    allocs_per_run(10, || calls += 1);
    assert_eq!(calls, 11);
}

#[test]
fn measure_nests() {
    let ((inner, _), outer) = measure(|| {
        let _a = black_box(Box::new(1u64));
        let (_keep, inner) = measure(|| black_box(Box::new([0u8; 100])));
        let _b = black_box(Box::new(2u64));
        (inner, ())
    });
    assert_eq!(inner.allocs, 1);
    assert_eq!(inner.bytes_allocated, 100);
    assert_eq!(inner.peak_live_bytes, 100);
    assert_eq!(outer.allocs, 3);
    assert_eq!(outer.peak_live_bytes, 116);
}

#[test]
fn stats_sub_gives_deltas() {
    let before = alloc_probe::stats();
    let keep = black_box(vec![7u8; 300]);
    let after = alloc_probe::stats();
    let d = after - before;
    // Other tests run on other threads at the same time, so only lower bounds hold here.
    assert!(d.allocs >= 1 && d.bytes_allocated >= 300, "{d:?}");
    assert!(after.peak_live_bytes >= after.live_bytes);
    assert_eq!(
        after.live_bytes,
        after.bytes_allocated - after.bytes_deallocated
    );
    assert_eq!(after.live_blocks, after.allocs - after.deallocs);
    drop(keep);
}

#[test]
fn assertion_macros() {
    let v = alloc_probe::assert_no_allocs!(black_box(3) + 4);
    assert_eq!(v, 7);
    let s = alloc_probe::assert_max_allocs!(1, String::from("x"));
    assert_eq!(s, "x");
    let err = std::panic::catch_unwind(|| alloc_probe::assert_no_allocs!(black_box(vec![1, 2, 3])))
        .unwrap_err();
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(
        msg.contains("`black_box(vec![1, 2, 3])` made 1 heap allocation at"),
        "{msg}"
    );
    assert!(msg.contains("tests/suite/counts.rs:"), "{msg}");
    assert!(msg.contains("expected none"), "{msg}");
    let err = std::panic::catch_unwind(|| {
        alloc_probe::assert_max_allocs!(1, (Box::new(1), Box::new(2), Box::new(3)))
    })
    .unwrap_err();
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(msg.contains("made 3 heap allocations"), "{msg}");
    assert!(msg.contains("expected at most 1"), "{msg}");
}
