//! A probe that keeps at most 200 stacks: the stacks it keeps have exact counts, the blocks of
//! the others count in the totals and in `tracking.unsited_blocks`, exactly. The oracle is the
//! program's arithmetic: 512 distinct stacks of 3 blocks of 8 bytes each.

use std::hint::black_box;

#[global_allocator]
static ALLOC: alloc_probe::Probe = alloc_probe::Probe::system().with_max_stacks(200);

const BITS: u32 = 9;
const BLOCKS: u64 = 3;

/// `BLOCKS` blocks at the end of a path through `zero` and `one` as the bits of `path` say:
/// two functions, so that an optimiser cannot merge the two ways into one call.
#[inline(never)]
fn descend(bits: u32, path: u64) -> u64 {
    if bits == 0 {
        return (0..BLOCKS).map(|i| *black_box(Box::new(i))).sum();
    }
    if path & 1 == 0 {
        zero(bits - 1, path >> 1)
    } else {
        one(bits - 1, path >> 1)
    }
}

#[inline(never)]
fn zero(bits: u32, path: u64) -> u64 {
    black_box(descend(bits, path))
}

#[inline(never)]
fn one(bits: u32, path: u64) -> u64 {
    black_box(descend(bits, path)) ^ 1
}

#[test]
fn past_the_limit_blocks_count_without_a_site() {
    let n = 1u64 << BITS;
    let ((), s) = alloc_probe::measure(|| {
        for path in 0..n {
            black_box(descend(BITS, path));
        }
    });
    assert_eq!(s.allocs, n * BLOCKS, "the totals count every block");
    let r = alloc_probe::report();
    assert_eq!(r.tracking.stacks, 200, "{:?}", r.tracking);
    let kept: Vec<u64> = r
        .stacks
        .iter()
        .filter(|st| {
            r.frames_of(st)
                .get(st.site)
                .is_some_and(|f| f.function.contains("descend"))
        })
        .map(|st| st.allocs)
        .collect();
    assert!(!kept.is_empty() && kept.len() < 200, "{}", kept.len());
    assert!(kept.iter().all(|&a| a == BLOCKS), "{kept:?}");
    let lost = (n - kept.len() as u64) * BLOCKS;
    assert_eq!(
        (r.tracking.unsited_blocks, r.tracking.unsited_bytes),
        (lost, lost * 8),
        "{:?}",
        r.tracking
    );
    let table = r.to_string();
    assert!(table.contains("  no site: "), "{table}");
}
