//! The allocation-heavy workload every `bench-*` binary runs, whatever its global allocator.
//!
//! Pure std and deterministic: every thread does the same mix of small boxes freed at once,
//! `format!` strings, `Vec`s grown by `push`, a `HashMap` and a `BTreeMap` built and dropped,
//! and some long-lived data kept until the thread ends. With `n` threads each thread does the
//! full amount of work, so on an idle machine with at least `n` cores the wall time of `n`
//! threads is close to that of one: what grows is contention in the allocator and its wrapper.
//!
//! Each binary includes this file with `#[path]` and calls [`bench_main`].

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasherDefault;
use std::hint::black_box;
use std::time::Instant;

/// Rounds per thread at scale 1; about 0.25 s single-threaded under `System` in release.
pub const ROUNDS: u64 = 20_000;

/// A deterministic hasher, so no thread-local random keys are involved.
type Fixed = BuildHasherDefault<DefaultHasher>;

/// One thread's share: `rounds` rounds of the mix. Returns a checksum.
pub fn thread_work(rounds: u64, seed: u64) -> u64 {
    let mut sum = 0u64;
    // Long-lived data: kept until the thread finishes, interleaved with short-lived blocks.
    let mut kept_strings: Vec<String> = Vec::new();
    let mut kept_boxes: Vec<Box<[u64]>> = Vec::new();
    for r in 0..rounds {
        let x = r.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ seed;

        // Small boxes of various sizes, each freed at once.
        for i in 0..64u64 {
            let b = black_box(Box::new([x ^ i; 2]));
            sum = sum.wrapping_add(b[0]);
            let size = 8 + ((x >> (i % 32)) as usize + i as usize * 7) % 240;
            let bytes = black_box(vec![i as u8; size].into_boxed_slice());
            sum = sum.wrapping_add(bytes.len() as u64);
        }

        // Formatted strings, a batch built and then dropped together.
        let mut strings = Vec::with_capacity(32);
        for i in 0..32u64 {
            strings.push(format!("item-{r}-{i}-{:x}", x.rotate_left(i as u32)));
        }
        sum = sum.wrapping_add(strings.iter().map(|s| s.len() as u64).sum::<u64>());
        drop(black_box(strings));

        // Vectors grown by push: each growth is a realloc.
        for k in 0..4u64 {
            let len = 16 + ((x >> (k * 8)) & 0x1ff) as usize;
            let mut v: Vec<u32> = Vec::new();
            for j in 0..len {
                v.push(j as u32 ^ k as u32);
            }
            sum = sum.wrapping_add(black_box(&v).len() as u64);
        }
        let mut s = String::new();
        for i in 0..48u64 {
            s.push_str(if (x >> (i % 64)) & 1 == 1 {
                "ab"
            } else {
                "xyz"
            });
        }
        sum = sum.wrapping_add(black_box(s).len() as u64);

        // Maps built and dropped.
        if r % 4 == 0 {
            let mut h: HashMap<String, u64, Fixed> = HashMap::default();
            for i in 0..48u64 {
                h.insert(format!("k{}", x.wrapping_add(i) % 1000), i);
            }
            sum = sum.wrapping_add(black_box(&h).len() as u64);
            let mut t: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
            for i in 0..48u64 {
                t.insert(
                    x.wrapping_mul(i + 1) % 4096,
                    vec![i as u8; (i % 24) as usize + 1],
                );
            }
            sum = sum.wrapping_add(black_box(&t).len() as u64);
        }

        // Some long-lived data.
        if r % 8 == 0 {
            kept_strings.push(format!("kept-{r}-{x:016x}"));
            kept_boxes.push(vec![x; 4 + (r % 28) as usize].into_boxed_slice());
        }
    }
    sum.wrapping_add(kept_strings.len() as u64 + kept_boxes.len() as u64)
}

/// Runs the workload on `threads` threads (the calling thread is one of them), each doing
/// `rounds` rounds. Returns the combined checksum.
pub fn run(threads: usize, rounds: u64) -> u64 {
    let threads = threads.max(1);
    std::thread::scope(|s| {
        let others: Vec<_> = (1..threads)
            .map(|t| s.spawn(move || thread_work(rounds, t as u64)))
            .collect();
        let mine = thread_work(rounds, 0);
        others
            .into_iter()
            .fold(mine, |acc, h| acc.wrapping_add(h.join().unwrap()))
    })
}

/// The `main` of every bench binary: `bench-<allocator> THREADS [ROUNDS]`.
///
/// `setup` runs first and its value is dropped after the timing (dhat's profiler). Prints
/// the workload's elapsed wall time in nanoseconds measured in-process (set-up, start-up and
/// teardown excluded) on the first line, then `checksum N`, then (on Linux) `cpu_ticks N`: the
/// whole process's user + system CPU time so far in clock ticks, with which the driver tells
/// whether other processes were competing for the CPU during the run.
pub fn bench_main<G>(setup: impl FnOnce() -> G) {
    let mut args = std::env::args().skip(1);
    let threads: usize = args
        .next()
        .map(|a| a.parse().expect("THREADS must be a number"))
        .unwrap_or(1);
    let rounds: u64 = args
        .next()
        .map(|a| a.parse().expect("ROUNDS must be a number"))
        .unwrap_or(ROUNDS);
    let guard = setup();
    let start = Instant::now();
    let sum = black_box(run(threads, rounds));
    let ns = start.elapsed().as_nanos();
    drop(guard);
    println!("{ns}");
    println!("checksum {sum}");
    if let Some(ticks) = cpu_ticks() {
        println!("cpu_ticks {ticks}");
    }
}

/// This process's user + system CPU time in clock ticks, from `/proc/self/stat`.
fn cpu_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name, starting with field 3 (state); utime and
    // stime are fields 14 and 15.
    let mut rest = stat
        .get(stat.rfind(')')? + 1..)?
        .split_whitespace()
        .skip(11);
    let utime: u64 = rest.next()?.parse().ok()?;
    let stime: u64 = rest.next()?.parse().ok()?;
    Some(utime + stime)
}
