//! The deterministic single-threaded workload of `tests/oracle_stats_alloc.rs`.
//!
//! Run once in the `oracle-stats-alloc` binary under `stats_alloc` and once in the test
//! process under `alloc_probe::measure`; both must see the same allocator calls. Pure std, no
//! randomness (the hash map uses a fixed hasher) and no lazily initialised runtime state, so
//! the two processes make exactly the same calls.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasherDefault;
use std::hint::black_box;

/// What the workload keeps alive past its end, so net bytes are not zero.
pub struct Kept {
    pub strings: Vec<String>,
    pub boxes: Vec<Box<[u32]>>,
}

impl Kept {
    /// Heap blocks held: the two vectors' buffers and what they point to.
    pub fn blocks(&self) -> usize {
        2 + self.strings.len() + self.boxes.len()
    }
}

/// What the workload saw of its own growth, to check the counters against.
pub struct Observed {
    /// Calls that must be allocations: boxes, plus each growable buffer's first allocation.
    pub min_allocs: u64,
    /// Capacity changes of already-allocated buffers the workload watched: each is a realloc.
    pub min_reallocs: u64,
}

/// Runs the workload; `extra_boxes` more boxes are allocated and freed (a negative control).
pub fn run(extra_boxes: usize) -> (Kept, Observed) {
    let mut obs = Observed {
        min_allocs: 0,
        min_reallocs: 0,
    };

    // Boxes of several sizes, freed at once; one zeroed buffer.
    for i in 0..100u32 {
        drop(black_box(Box::new(i)));
        drop(black_box(Box::new([i as u64; 5])));
        drop(black_box(
            vec![i as u8; 1 + (i as usize * 13) % 300].into_boxed_slice(),
        ));
        obs.min_allocs += 3;
    }
    drop(black_box(vec![0u8; 4096]));
    obs.min_allocs += 1;
    for i in 0..extra_boxes {
        drop(black_box(Box::new(i)));
    }

    // Formatted strings, some kept.
    let mut strings = Vec::new();
    for i in 0..50u32 {
        let s = format!("string {i} of {}: {:>8}", 50, i * 7919);
        if i % 5 == 0 {
            strings.push(s);
        }
    }

    // A vector whose capacity changes: grown by push (the first change allocates, each later
    // one reallocates), then shrunk, then grown again by an exact reserve.
    let mut v: Vec<u64> = Vec::new();
    let mut cap = v.capacity();
    for i in 0..3000u64 {
        v.push(black_box(i));
        if v.capacity() != cap {
            if cap == 0 {
                obs.min_allocs += 1;
            } else {
                obs.min_reallocs += 1;
            }
            cap = v.capacity();
        }
    }
    v.truncate(1000);
    v.shrink_to_fit();
    v.reserve_exact(500);
    obs.min_reallocs += 2;
    black_box(&v);
    drop(v);

    // A string grown by push_str, watched the same way.
    let mut s = String::new();
    let mut cap = s.capacity();
    for i in 0..400u32 {
        s.push_str(if i % 3 == 0 { "abc" } else { "de" });
        if s.capacity() != cap {
            if cap == 0 {
                obs.min_allocs += 1;
            } else {
                obs.min_reallocs += 1;
            }
            cap = s.capacity();
        }
    }
    strings.push(s);

    // Maps built and dropped.
    let mut h: HashMap<String, usize, BuildHasherDefault<DefaultHasher>> = HashMap::default();
    for i in 0..200usize {
        h.insert(format!("key{i}"), i);
    }
    black_box(&h);
    drop(h);
    let mut t: BTreeMap<u32, Vec<u8>> = BTreeMap::new();
    for i in 0..200u32 {
        t.insert(
            i.wrapping_mul(2_654_435_761) % 1000,
            vec![i as u8; (i % 17) as usize],
        );
    }
    black_box(&t);
    drop(t);

    let boxes = (0..20u32)
        .map(|i| vec![i; i as usize + 1].into_boxed_slice())
        .collect();
    (Kept { strings, boxes }, obs)
}
