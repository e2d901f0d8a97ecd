//! A deterministic, single-threaded workload for comparisons with independent tools
//! (valgrind's DHAT, dhat-rs, heaptrack). Its allocations depend only on the code: no
//! randomly seeded hashing, no threads, no time.

use std::collections::BTreeMap;
use std::hint::black_box;

/// Runs the workload; returns a checksum so nothing is optimised away.
#[inline(never)]
pub fn run() -> u64 {
    let mut sum = 0u64;
    let mut keep: Vec<Box<[u64; 4]>> = Vec::new();
    let mut map: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for i in 0..2000u64 {
        // Small boxes freed at once (temporaries), and some kept.
        let b = black_box(Box::new([i; 4]));
        sum += b[0];
        drop(b);
        if i % 10 == 0 {
            keep.push(Box::new([i; 4]));
        }
        // Formatted strings: format! grows its buffer as it writes.
        let s = format!("key-{:05}-{}", i % 300, "x".repeat((i % 7) as usize));
        sum += s.len() as u64;
        // A vector grown by push, then stored in a map under a formatted key.
        let mut v = Vec::new();
        for j in 0..(i % 17) as u32 {
            v.push(j);
        }
        map.entry(s).or_default().extend(v);
    }
    // A big temporary and a shrink.
    let mut big = vec![1u8; 1 << 20];
    big.truncate(10);
    big.shrink_to_fit();
    sum += big.len() as u64;
    sum += map.values().map(|v| v.len() as u64).sum::<u64>();
    sum += keep.len() as u64;
    black_box(sum)
}
