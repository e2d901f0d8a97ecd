//! The switch to shared updates landing in the middle of a solo writer's event: the event has
//! stored its share, outside an update section (`counts` mode, and `sampled` mode's unsampled
//! blocks), and not yet raised the peak. A test hook pauses the solo writer right there, and a
//! thread with no allocation of its own before that moment (a raw `pthread`, which the Rust
//! runtime does not set up) makes the switch during the pause. The new peak must not be lost:
//! the solo writer frees the block at once, so nothing else would raise the peak to it.
//! A plain `main` (no test harness, whose threads would make the process shared from the
//! start), run as a child process in each mode.

#![cfg_attr(not(unix), allow(dead_code, unused_imports))]

use std::hint::black_box;

#[path = "support/rerun.rs"]
mod rerun;

#[global_allocator]
static ALLOC: alloc_probe::Probe = alloc_probe::Probe::system();

const BIG: usize = 16 << 20;

/// The raw thread: waits until the solo writer is paused, then frees a block the solo writer
/// allocated, which makes the process shared while the solo writer sleeps. A free, not an
/// allocation: its share shrinks, so it has no reason to settle the books (which would find
/// the solo writer's block and raise the peak to it).
#[cfg(unix)]
extern "C" fn switcher(block: *mut libc::c_void) -> *mut libc::c_void {
    while !alloc_probe::testing::over_limit_paused() {
        std::hint::spin_loop();
    }
    // SAFETY: `block` is the `Box<u64>` that `child` leaked for this thread to free.
    drop(unsafe { Box::from_raw(block as *mut u64) });
    std::ptr::null_mut()
}

#[cfg(unix)]
fn child() {
    let block = Box::into_raw(Box::new(7u64));
    let before = alloc_probe::stats();
    assert!(before.peak_live_bytes < BIG as u64, "{before:?}");
    let mut thread: libc::pthread_t = 0;
    // SAFETY: a valid out-pointer, default attributes, and a function that never unwinds;
    // the block is the thread's to free.
    let rc = unsafe {
        libc::pthread_create(
            &mut thread,
            std::ptr::null(),
            switcher,
            block as *mut libc::c_void,
        )
    };
    assert_eq!(rc, 0);
    alloc_probe::testing::pause_over_limit(200_000_000);
    let big = black_box(vec![1u8; BIG]);
    drop(big);
    // SAFETY: the thread was created above and is joined once.
    assert_eq!(
        unsafe { libc::pthread_join(thread, std::ptr::null_mut()) },
        0
    );
    assert!(
        alloc_probe::testing::over_limit_paused(),
        "the pause never happened"
    );
    let after = alloc_probe::stats();
    assert!(
        after.peak_live_bytes >= before.live_bytes - 8 + BIG as u64,
        "the peak lost the {BIG}-byte block: before {before:?}, after {after:?}"
    );
}

/// The raw thread is a `pthread`: elsewhere the test says it did not run, as libtest says of
/// an ignored test.
#[cfg(not(unix))]
fn main() {
    println!("test switch_mid_event ... ignored, it needs a raw pthread\n");
    println!("test result: ok. 0 passed; 0 failed; 1 ignored");
}

#[cfg(unix)]
fn main() {
    // Sampled mode with no block sampled: only the section-free path counts.
    let never = [("ALLOC_PROBE_SAMPLE_RATE", "1000000000000")];
    rerun::main("switch_mid_event", &["counts", "sampled"], 1, &never, child);
}
