//! What an allocation costs inside a scope (`measure`, or a `#[track_allocs]` call) in
//! `counts` mode: `cargo bench -p alloc-probe-bench --bench scope_cost`.
//!
//! The quick path keeps no high-water of the thread's live bytes; while a scope is open, the
//! thread's events go out of line, where the high-water is kept (see `thread::Scope`). This
//! prints nanoseconds per `Box` allocation and free, outside and inside `measure`, as the
//! median of several batches, alternated.

use std::hint::black_box;
use std::time::Instant;

#[global_allocator]
static ALLOC: alloc_probe::Probe =
    alloc_probe::Probe::system().with_mode(alloc_probe::Mode::Counts);

const PAIRS: u64 = 2_000_000;

fn work() {
    for i in 0..PAIRS {
        drop(black_box(Box::new(i)));
    }
}

/// Nanoseconds per allocation and free of `f`'s batch.
fn per_pair(f: impl FnOnce()) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_nanos() as f64 / PAIRS as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let (mut outside, mut inside) = (Vec::new(), Vec::new());
    for _ in 0..11 {
        outside.push(per_pair(work));
        inside.push(per_pair(|| {
            let ((), s) = alloc_probe::measure(work);
            assert_eq!(s.allocs, PAIRS);
        }));
    }
    let (o, i) = (median(outside), median(inside));
    println!("| Box allocation and free, counts mode | ns per pair |");
    println!("|---|---|");
    println!("| outside any scope | {o:.1} |");
    println!("| inside `measure` | {i:.1} |");
    println!("| added by the scope | {:.1} |", i - o);
    alloc_probe::set_exit_report(false);
}
