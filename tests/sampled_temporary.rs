//! A temporary's free is the very next allocator event of its thread. In `sampled` mode the
//! unsampled events touch no tracking state, so a sampled block's free compares the thread's
//! event count with the one at the block's birth. Here big blocks (256 KiB, sampled with
//! probability 1 - e^-64 at a gap of 4 KiB, weight exactly 1) are freed either at once or
//! after a small block's alloc and free, which are almost never sampled (and if one is, it is
//! tracked, and the big block is no temporary all the same): only the first are temporaries.

use std::hint::black_box;

#[global_allocator]
static ALLOC: alloc_probe::Probe = alloc_probe::Probe::system()
    .with_mode(alloc_probe::Mode::Sampled)
    .with_sample_rate(4096);

const BIG: usize = 256 * 1024;

#[inline(never)]
fn freed_next(n: usize) -> u32 {
    for _ in 0..n {
        let big = black_box(vec![1u8; BIG]);
        drop(big);
    }
    line!() - 3
}

#[inline(never)]
fn freed_after_a_small_block(n: usize) -> u32 {
    for i in 0..n {
        let big = black_box(vec![2u8; BIG]);
        drop(black_box(Box::new(i as u8)));
        drop(big);
    }
    line!() - 4
}

#[inline(never)]
fn moved_after_a_small_block(n: usize) -> u32 {
    for i in 0..n {
        let mut big = black_box(vec![3u8; BIG]);
        drop(black_box(Box::new(i as u8)));
        big.reserve(BIG * 4); // a move: the realloc is not the block's next event
        drop(black_box(Box::new(i as u8)));
        drop(big);
    }
    line!() - 6
}

#[test]
fn a_temporary_is_freed_by_the_threads_next_event() {
    assert_eq!(alloc_probe::mode(), alloc_probe::Mode::Sampled);

    // The site of the scenario that returned `line`, after it ran.
    let site = |line: u32| alloc_probe::report().site(file!(), line).cloned();

    let s = site(freed_next(100)).expect("the big block's site");
    assert_eq!((s.allocs, s.temporary), (100, 100), "{s:#?}");

    let s = site(freed_after_a_small_block(100)).expect("the big block's site");
    assert_eq!((s.allocs, s.temporary), (100, 0), "{s:#?}");

    let s = site(moved_after_a_small_block(100)).expect("the big block's site");
    assert_eq!((s.allocs, s.reallocs, s.temporary), (100, 100, 0), "{s:#?}");
}
