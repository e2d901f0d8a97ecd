//! What `#[track_allocs]` and full tracking cost: `cargo bench -p alloc-probe-bench --bench track_cost`.
//!
//! * The time a tracked call that allocates nothing adds over the same untracked call
//!   (target: at most 20 ns), as the median of many batches, in `full` mode.
//! * The memory tracking uses per live block, with a million boxes live (target: at most 32
//!   bytes), read from the report's own accounting.

use std::hint::black_box;
use std::time::Instant;

#[global_allocator]
static ALLOC: alloc_probe::Probe = alloc_probe::Probe::system();

#[inline(never)]
fn plain(x: u64) -> u64 {
    black_box(x).wrapping_mul(31).rotate_left(7)
}

#[inline(never)]
#[alloc_probe::track_allocs]
fn tracked(x: u64) -> u64 {
    black_box(x).wrapping_mul(31).rotate_left(7)
}

/// Median nanoseconds per call over `batches` batches of `n` calls.
fn per_call(f: fn(u64) -> u64, batches: usize, n: u64) -> f64 {
    let mut samples: Vec<f64> = (0..batches)
        .map(|_| {
            let t = Instant::now();
            let mut acc = 0u64;
            for i in 0..n {
                acc = acc.wrapping_add(f(i));
            }
            black_box(acc);
            t.elapsed().as_nanos() as f64 / n as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn main() {
    // Warm up both paths (registration, caches, frequency).
    per_call(plain, 5, 1_000_000);
    per_call(tracked, 5, 1_000_000);
    let (mut p, mut t) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        p.push(per_call(plain, 21, 1_000_000));
        t.push(per_call(tracked, 21, 1_000_000));
    }
    p.sort_by(f64::total_cmp);
    t.sort_by(f64::total_cmp);
    let (p, t) = (p[2], t[2]);
    println!("| call | ns per call |");
    println!("|---|---|");
    println!("| untracked | {p:.1} |");
    println!("| #[track_allocs], allocates nothing | {t:.1} |");
    println!("| added by tracking | {:.1} |", t - p);

    let keep: Vec<Box<u64>> = (0..1_000_000).map(Box::new).collect();
    let r = alloc_probe::report();
    println!(
        "\ntracking memory with {} live blocks: {:.1} bytes per live block ({} in headers, {} in {} unique stacks, {} in the side table)",
        r.stats.live_blocks,
        r.tracking.bytes_per_live_block,
        r.tracking.header_bytes,
        r.tracking.stack_bytes,
        r.tracking.stacks,
        r.tracking.side_bytes,
    );
    drop(black_box(keep));
    alloc_probe::set_exit_report(false);
}
