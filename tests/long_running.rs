//! Verdicts in a process that has run for weeks: past 2^24 tracked calls on a thread and
//! 2^24 threads (what the block records of earlier versions kept), a block is still matched to
//! its own call and its own thread, and calls still find their blocks where the invocation
//! numbers pass the 56 bits a block's record keeps. One test in this binary, so that no other test starts
//! threads while it counts them.

use std::hint::black_box;

use alloc_probe::track_allocs;

#[global_allocator]
static ALLOC: alloc_probe::Probe = alloc_probe::Probe::system();

#[track_allocs]
fn replace(keep: &mut Option<Box<[u8; 24]>>) {
    drop(keep.take());
    *keep = Some(black_box(Box::new([5u8; 24])));
}

/// Frees its own block before it returns: non-escaping, by its invocation number.
#[track_allocs]
fn own_block() {
    drop(black_box(Box::new([7u8; 40])));
}

#[inline(never)]
fn boxed() -> (Box<[u8; 56]>, u32) {
    (black_box(Box::new([6u8; 56])), line!())
}

/// Born on one thread, to be freed on a thread started 2^24 threads later.
fn born_on_an_old_thread() -> (Box<[u8; 56]>, u32) {
    std::thread::spawn(boxed).join().unwrap()
}

#[test]
fn counters_past_24_bits_keep_calls_and_threads_apart() {
    // Each call frees the box of the call before, 2^24 calls earlier: it escaped that call.
    let mut keep = None;
    replace(&mut keep);
    for _ in 0..5 {
        alloc_probe::testing::skip((1 << 24) - 1, 0);
        replace(&mut keep);
    }
    drop(keep);
    let r = alloc_probe::report();
    let f = r.function("replace").unwrap();
    assert_eq!((f.calls, f.allocs), (6, 6));
    assert_eq!((f.non_escaping, f.escaped), (0, 6));

    // Two threads 2^24 serials apart are two threads.
    let (b, line) = born_on_an_old_thread();
    alloc_probe::testing::skip(0, (1 << 24) - 1);
    std::thread::spawn(move || drop(black_box(b)))
        .join()
        .unwrap();
    let r = alloc_probe::report();
    let s = r.site(file!(), line).expect("the old thread's site");
    assert_eq!((s.allocs, s.freed_elsewhere), (1, 1), "{s:#?}");
    assert_eq!(s.escaped, 1, "{s:#?}");

    // Across the 56 bits a block's record keeps of its call's number: calls on either side
    // of the wrap still find their own blocks.
    alloc_probe::testing::skip((1 << 56) - 8, 0);
    for _ in 0..16 {
        own_block();
    }
    let r = alloc_probe::report();
    let f = r.function("own_block").unwrap();
    assert_eq!((f.calls, f.non_escaping, f.escaped), (16, 16, 0), "{f:#?}");
}
