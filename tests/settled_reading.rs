//! A reading of the totals (`stats()`) while another thread's event waits for the lock. The
//! waiting thread has stored its share, past its grant; a reading that includes that share
//! fixes the event before the reading, so the peak must then hold for what follows: here the
//! reader grows by 8 MiB within its own grant and shrinks again before the waiting thread
//! settles. A test hook pauses the waiting thread just before it takes the lock.
//! A plain `main` (no test harness), run as a child process in each mode that counts outside
//! update sections, which is where the hook sits.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};

#[path = "support/rerun.rs"]
mod rerun;

#[global_allocator]
static ALLOC: alloc_probe::Probe = alloc_probe::Probe::system();

const HELD: usize = 8 << 20;
const BIG: usize = 16 << 20;

static HOLDING: AtomicBool = AtomicBool::new(false);

/// The reader: holds a block (so its grant covers `HELD` bytes), waits until the main thread
/// is paused with its big block counted, frees its block, reads the totals, and grows by
/// `HELD` bytes again, within its grant. Returns what it read.
fn reader() -> alloc_probe::Stats {
    let held = black_box(vec![1u8; HELD]);
    HOLDING.store(true, SeqCst);
    let start = std::time::Instant::now();
    while !alloc_probe::testing::over_limit_paused() {
        assert!(
            start.elapsed().as_secs() < 20,
            "the main thread never paused"
        );
        std::hint::spin_loop();
    }
    drop(held);
    let read = alloc_probe::stats();
    drop(black_box(vec![2u8; HELD]));
    read
}

fn child() {
    let thread = std::thread::spawn(reader);
    while !HOLDING.load(SeqCst) {
        std::hint::spin_loop();
    }
    // One event first, which makes this thread count shared (its first event after the
    // switch takes the general path, where the hook is not), then the one that pauses.
    drop(black_box(Box::new(0u64)));
    alloc_probe::testing::pause_over_limit(300_000_000);
    let big = black_box(vec![1u8; BIG]);
    let read = thread.join().unwrap();
    drop(big);
    assert!(
        alloc_probe::testing::over_limit_paused(),
        "the pause never happened"
    );
    assert!(
        read.live_bytes >= BIG as u64,
        "the reading did not include the waiting thread's block: {read:?}"
    );
    let after = alloc_probe::stats();
    assert!(
        after.peak_live_bytes >= read.live_bytes + HELD as u64,
        "the peak missed the reader's {HELD} bytes on top of what it read: read {read:?}, after {after:?}"
    );
}

fn main() {
    // Sampled mode with no block sampled: only the section-free path counts.
    let never = [("ALLOC_PROBE_SAMPLE_RATE", "1000000000000")];
    rerun::main("settled_reading", &["counts", "sampled"], 1, &never, child);
}
