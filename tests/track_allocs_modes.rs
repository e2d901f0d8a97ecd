//! Per-function counts are exact in every mode: here `sampled` with a huge gap, so almost no
//! block gets a site, and the function's calls and allocations still add up exactly.

use std::hint::black_box;

#[global_allocator]
static ALLOC: alloc_probe::Probe = alloc_probe::Probe::system()
    .with_mode(alloc_probe::Mode::Sampled)
    .with_sample_rate(1 << 40);

#[alloc_probe::track_allocs]
fn three_boxes(i: u32) -> u32 {
    let a = black_box(Box::new(i));
    let b = black_box(Box::new([i; 3]));
    let c = black_box(vec![i; 5]);
    *a + b[0] + c[4]
}

#[test]
fn function_counts_do_not_depend_on_sampling() {
    assert_eq!(alloc_probe::mode(), alloc_probe::Mode::Sampled);
    for i in 0..1000 {
        black_box(three_boxes(i));
    }
    let r = alloc_probe::report();
    let f = r.function("three_boxes").expect("tracked");
    assert_eq!(f.calls, 1000);
    assert_eq!(f.allocs, 3000);
    assert_eq!(f.bytes, 1000 * (4 + 12 + 20));
    assert_eq!(f.allocs_per_call, 3.0);
    // With a gap of a terabyte nothing is sampled: no sites, no classes.
    assert!(f.sites.is_empty(), "{:?}", f.sites);
}
