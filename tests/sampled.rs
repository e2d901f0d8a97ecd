//! `sampled` mode: per-site figures are unbiased estimates. Over many runs they average out to
//! the exact counts, and each run stays within a stated error.
//!
//! With mean gap `r` bytes, a block of `s` bytes is sampled with probability
//! `p = 1 - exp(-s/r)` and weighs `1/p`, so for `n` such blocks the estimated count has
//! standard deviation `sqrt(n (1-p) / p)`.

use std::hint::black_box;

const RATE: u64 = 4096;

#[global_allocator]
static ALLOC: alloc_probe::Probe = alloc_probe::Probe::system()
    .with_mode(alloc_probe::Mode::Sampled)
    .with_sample_rate(RATE);

#[inline(never)]
fn small(n: usize) -> u32 {
    for i in 0..n {
        drop(black_box(Box::new([i as u8; 64])));
    }
    line!() - 2
}

#[inline(never)]
fn large(n: usize) -> u32 {
    for i in 0..n {
        drop(black_box(vec![i as u8; 10_000]));
    }
    line!() - 2
}

fn estimate(line: u32) -> (u64, u64) {
    alloc_probe::report()
        .site(file!(), line)
        .map_or((0, 0), |s| (s.allocs, s.bytes))
}

fn sigma(n: f64, size: f64) -> f64 {
    let p = 1.0 - (-size / RATE as f64).exp();
    (n * (1.0 - p) / p).sqrt()
}

#[test]
fn estimates_are_unbiased_and_within_their_error() {
    assert_eq!(alloc_probe::mode(), alloc_probe::Mode::Sampled);
    // Exact counts stay exact in every mode.
    let ((), exact) = alloc_probe::measure(|| {
        small(1000);
    });
    assert_eq!(exact.allocs, 1000);

    const RUNS: usize = 20;
    const N_SMALL: usize = 20_000;
    const N_LARGE: usize = 2_000;
    let (s_line, l_line) = (small(0), large(0));
    let mut prev_s = estimate(s_line);
    let mut prev_l = estimate(l_line);
    let (mut sum_s, mut sum_l) = (0.0, 0.0);
    let (sd_s, sd_l) = (sigma(N_SMALL as f64, 64.0), sigma(N_LARGE as f64, 10_000.0));
    for run in 0..RUNS {
        small(N_SMALL);
        large(N_LARGE);
        let (now_s, now_l) = (estimate(s_line), estimate(l_line));
        let (es, el) = ((now_s.0 - prev_s.0) as f64, (now_l.0 - prev_l.0) as f64);
        // Bytes weigh the same 1/p per block: with fixed sizes, bytes = blocks * size.
        assert!(((now_s.1 - prev_s.1) as f64 - es * 64.0).abs() <= 64.0 * 2.0);
        for (what, est, n, sd) in [("small", es, N_SMALL, sd_s), ("large", el, N_LARGE, sd_l)] {
            assert!(
                (est - n as f64).abs() <= 5.0 * sd,
                "run {run}: {what} estimate {est} vs exact {n} (sigma {sd:.0})"
            );
        }
        sum_s += es;
        sum_l += el;
        prev_s = now_s;
        prev_l = now_l;
    }
    // The mean of RUNS independent estimates has sigma / sqrt(RUNS).
    let k = (RUNS as f64).sqrt();
    let (mean_s, mean_l) = (sum_s / RUNS as f64, sum_l / RUNS as f64);
    eprintln!("mean estimates: small {mean_s:.0} of {N_SMALL}, large {mean_l:.1} of {N_LARGE}");
    assert!(
        (mean_s - N_SMALL as f64).abs() <= 4.0 * sd_s / k,
        "small: mean {mean_s} vs {N_SMALL} (sigma of mean {:.0})",
        sd_s / k
    );
    assert!(
        (mean_l - N_LARGE as f64).abs() <= 4.0 * sd_l / k,
        "large: mean {mean_l} vs {N_LARGE} (sigma of mean {:.1})",
        sd_l / k
    );
}
