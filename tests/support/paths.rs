//! Distinct allocation stacks on demand, for the tests of the stack table's scale and limit.

use std::hint::black_box;

/// `blocks` blocks of 8 bytes at the end of a path of `bits` calls, each through `zero` or
/// `one` as the bits of `path` say: 2^bits distinct stacks. Two functions, not two calls of
/// one: an optimiser merges two calls alike into one, and a call in tail position leaves no
/// frame.
#[inline(never)]
pub fn descend(bits: u32, path: u64, blocks: u32) -> u64 {
    if bits == 0 {
        return (0..blocks)
            .map(|i| *black_box(Box::new(u64::from(i))))
            .sum();
    }
    if path & 1 == 0 {
        zero(bits - 1, path >> 1, blocks)
    } else {
        one(bits - 1, path >> 1, blocks)
    }
}

#[inline(never)]
fn zero(bits: u32, path: u64, blocks: u32) -> u64 {
    black_box(descend(bits, path, blocks))
}

#[inline(never)]
fn one(bits: u32, path: u64, blocks: u32) -> u64 {
    black_box(descend(bits, path, blocks)) ^ 1
}

/// The blocks of each stack whose site is `descend`'s.
pub fn leaf_stacks(r: &alloc_probe::Report) -> Vec<u64> {
    r.stacks
        .iter()
        .filter(|s| {
            r.frames_of(s)
                .get(s.site)
                .is_some_and(|f| f.function.contains("descend"))
        })
        .map(|s| s.allocs)
        .collect()
}
