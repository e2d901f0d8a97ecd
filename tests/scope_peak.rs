//! The high-water of a scope (`measure`'s `peak_live_bytes`, a tracked call's
//! `max_live_bytes`) is exact in every mode, for the solo writer and after the switch to
//! shared updates.
//!
//! The allocator's quick path keeps no high-water: a thread with a scope open counts its
//! events on the general path, which does (see `thread::Scope`). The workload's peak is
//! known by construction: 1,000 bytes, then 3,000 more, the first freed, then 100 bytes
//! reallocated to 5,000 (a reallocation frees the old size and allocates the new one, so the
//! peak is 3,000 + 5,000 = 8,000 bytes), then everything freed.
//!
//! A plain `main`, run as a child once per mode: the first half of the checks runs before any
//! other thread allocates, as the solo writer.

use std::hint::black_box;

#[path = "support/rerun.rs"]
mod rerun;

#[global_allocator]
static ALLOC: alloc_probe::Probe = alloc_probe::Probe::system();

/// The workload's peak over what was live before it.
const PEAK: u64 = 8_000;

fn workload() {
    let a = black_box(vec![1u8; 1_000]);
    let b = black_box(vec![2u8; 3_000]);
    drop(a);
    let mut v: Vec<u8> = Vec::with_capacity(100);
    v.reserve_exact(5_000);
    assert_eq!(v.capacity(), 5_000);
    black_box(&mut v);
    drop(b);
    drop(v);
}

#[alloc_probe::track_allocs]
fn tracked() {
    workload();
}

/// Keeps `n` bytes live for the rest of the run, so that the scopes start above zero.
fn keep(n: usize) {
    std::mem::forget(black_box(vec![0u8; n]));
}

/// A `measure` whose closure holds `held` bytes and panics; the panic is caught.
fn measure_that_panics(held: usize) {
    let caught = std::panic::catch_unwind(|| {
        alloc_probe::measure(|| {
            let held = black_box(vec![0u8; held]);
            if black_box(true) {
                panic!("leaves the scope");
            }
            drop(held);
        })
    });
    assert!(caught.is_err());
}

fn checks(path: &str) {
    let ((), s) = alloc_probe::measure(workload);
    assert_eq!(s.peak_live_bytes, PEAK, "{path}: one scope");
    assert_eq!(s.live_bytes, 0, "{path}");

    // Nested: the inner scope sees its own peak, the outer one the larger of both.
    keep(64);
    let (inner, outer) = alloc_probe::measure(|| {
        let big = black_box(vec![0u8; 20_000]);
        drop(big);
        let ((), inner) = alloc_probe::measure(workload);
        inner
    });
    assert_eq!(inner.peak_live_bytes, PEAK, "{path}: inner scope");
    assert_eq!(outer.peak_live_bytes, 20_000, "{path}: outer scope");

    // A scope the closure leaves by panicking is closed all the same.
    measure_that_panics(50_000);
    let ((), s) = alloc_probe::measure(workload);
    assert_eq!(s.peak_live_bytes, PEAK, "{path}: after a panic");

    // An inner scope left by a panic gives the outer one its high-water back.
    let ((), outer) = alloc_probe::measure(|| {
        let big = black_box(vec![0u8; 20_000]);
        drop(big);
        measure_that_panics(5_000);
    });
    assert_eq!(outer.peak_live_bytes, 20_000, "{path}: outer of a panic");

    // A tracked call is a scope too, and one inside `measure` leaves its peak intact.
    for _ in 0..3 {
        tracked();
    }
    let ((), s) = alloc_probe::measure(|| {
        let big = black_box(vec![0u8; 30_000]);
        drop(big);
        tracked();
    });
    assert_eq!(s.peak_live_bytes, 30_000, "{path}: a tracked call inside");
}

fn child() {
    // The panic above is expected; keep stderr for real failures.
    std::panic::set_hook(Box::new(|info| {
        if !info.to_string().contains("leaves the scope") {
            eprintln!("{info}");
        }
    }));
    checks("solo writer");
    // Another thread allocates: the process switches to shared updates.
    std::thread::spawn(|| black_box(vec![0u8; 10]))
        .join()
        .unwrap();
    checks("shared");
    let r = alloc_probe::report();
    let f = r.function("tracked").expect("tracked");
    assert_eq!(f.calls, 8);
    assert_eq!(f.max_live_bytes, PEAK);
}

fn main() {
    rerun::main(
        "scope_peak",
        &["counts", "sampled", "full"],
        1,
        &[("ALLOC_PROBE_SAMPLE_RATE", "4096")],
        child,
    );
}
