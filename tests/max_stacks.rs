//! A probe that keeps at most 200 stacks: the stacks it keeps have exact counts, the blocks of
//! the others count in the totals and in `tracking.unsited_blocks`, exactly. The oracle is the
//! program's arithmetic: 512 distinct stacks of 3 blocks of 8 bytes each.

use std::hint::black_box;

#[global_allocator]
static ALLOC: alloc_probe::Probe = alloc_probe::Probe::system().with_max_stacks(200);

const BITS: u32 = 9;
const BLOCKS: u64 = 3;

#[path = "support/paths.rs"]
mod paths;
use paths::{descend, leaf_stacks};

#[test]
fn past_the_limit_blocks_count_without_a_site() {
    let n = 1u64 << BITS;
    let ((), s) = alloc_probe::measure(|| {
        for path in 0..n {
            black_box(descend(BITS, path, BLOCKS as u32));
        }
    });
    assert_eq!(s.allocs, n * BLOCKS, "the totals count every block");
    let r = alloc_probe::report();
    assert_eq!(r.tracking.stacks, 200, "{:?}", r.tracking);
    let kept = leaf_stacks(&r);
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
