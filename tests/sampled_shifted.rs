//! `sampled` mode over an inner allocator whose every block is 8 past a multiple of 16, as a
//! sampled block is (`tests/support/shifted.rs`): every free then asks the side table's
//! bitmap, and most are of blocks that were not sampled. Their counts must stay exact, their
//! memory go back to the inner allocator whole, and the sampled blocks be found.

use std::hint::black_box;

#[path = "support/shifted.rs"]
mod shifted;

#[global_allocator]
static ALLOC: alloc_probe::Probe<shifted::Shifted> = alloc_probe::Probe::new(shifted::Shifted)
    .with_mode(alloc_probe::Mode::Sampled)
    .with_sample_rate(4096);

const BIG: usize = 256 * 1024;

#[inline(never)]
fn mixed(n: usize) -> (u64, u32) {
    let mut sum = 0u64;
    for i in 0..n {
        // Big blocks are sampled with probability 1 - e^-64, small ones rarely.
        let mut big = black_box(vec![i as u8; BIG]);
        let line = line!() - 1;
        for j in 0..20u64 {
            let small = black_box(Box::new([j; 3]));
            sum = sum.wrapping_add(small[2]);
        }
        big.push(1); // a realloc of a sampled block
        let mut grown: Vec<u32> = Vec::new();
        for j in 0..100 {
            grown.push(j); // reallocs of (mostly) unsampled blocks
        }
        sum = sum.wrapping_add(big[BIG - 1] as u64 + grown.len() as u64);
        drop(black_box(big));
        if i + 1 == n {
            return (sum, line);
        }
    }
    unreachable!()
}

#[test]
fn every_free_asks_and_the_counts_stay_exact() {
    let n = 200;
    let ((sum, line), s) = alloc_probe::measure(|| mixed(n));
    assert_eq!(
        sum,
        (0..n as u64)
            .map(|i| 190 + (i as u8) as u64 + 100)
            .sum::<u64>()
    );
    // Per round: the big block, 20 boxes, the vector's first block; then one realloc of the
    // big block and the vector's growths from 4 to 128 elements (5 reallocs).
    let n = n as u64;
    assert_eq!(
        (s.allocs, s.deallocs, s.reallocs),
        (n * 22, n * 22, n * 6),
        "{s:?}"
    );
    assert_eq!(s.live_bytes, 0, "{s:?}");
    let r = alloc_probe::report();
    let site = r.site(file!(), line).expect("the big block's site");
    assert_eq!(
        (site.allocs, site.reallocs, site.leaked, site.non_escaping),
        // Without a frame test (Windows x64), blocks freed outside a tracked call escape.
        (n, n, 0, if cfg!(windows) { 0 } else { n }),
        "{site:#?}"
    );
}
