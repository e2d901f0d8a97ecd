//! The process's live bytes and their exact peak.
//!
//! An exact peak needs one order of all increases and decreases: one shared counter. A locked
//! add on it costs as much as a third of a small `malloc` + `free`, so while only one thread
//! has ever allocated (most programs for much of their run, every single-threaded benchmark)
//! that thread updates the counter with plain loads and stores. The first time another
//! thread allocates, it switches the process to locked updates, for good, with an asymmetric
//! fence: it sets `SHARED`, runs `membarrier` (a full barrier on every thread of the process,
//! without the lone thread paying for one on each update), then waits until the lone thread
//! is not half-way through an update. After that the lone thread sees `SHARED` and uses
//! locked updates too. Where `membarrier` is not available, updates are locked from the start.
//!
//! The same sections cover every counter the allocator path shares between threads (program
//! points' counters in `blocks`), so a single-threaded program pays for no locked
//! instruction at all.

use std::ptr;
use std::sync::atomic::{compiler_fence, AtomicBool, AtomicPtr, AtomicU64, Ordering::*};

use crate::tally::Slot;

/// The live-byte counter and its peak, each on a cache line of its own. The counter's line
/// moves between cores on every event; the peak's is read on every event and written only
/// at a new peak, so it stays shared in every core's cache. (On one line, every read of the
/// peak would also wait for the counter's line: 7% slower with two threads, A/B here.)
#[repr(C, align(128))]
struct Line(AtomicU64);

struct Counter {
    live: Line,
    peak: Line,
}

static LIVE: Counter = Counter {
    live: Line(AtomicU64::new(0)),
    peak: Line(AtomicU64::new(0)),
};

/// What changes only at a new peak, on another line: program points read the epoch on every
/// tracked event (see `blocks::note_change`), which must not wait for the busy line above.
#[repr(C, align(128))]
struct PeakMark {
    /// How many times a new peak was reached.
    epoch: AtomicU64,
    /// When the latest peak was reached, in clock ticks (tracking modes only: reading the
    /// clock is slow in a virtual machine).
    ticks: AtomicU64,
}

static MARK: PeakMark = PeakMark {
    epoch: AtomicU64::new(0),
    ticks: AtomicU64::new(0),
};

/// The slot of the one thread allowed plain updates, until `SHARED`.
static SOLO: AtomicPtr<Slot> = AtomicPtr::new(ptr::null_mut());
static SHARED: AtomicBool = AtomicBool::new(false);
static SWITCHING: AtomicBool = AtomicBool::new(false);

const MEMBARRIER_CMD_PRIVATE_EXPEDITED: libc::c_long = 1 << 3;
const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_long = 1 << 4;

fn membarrier(cmd: libc::c_long) -> bool {
    // SAFETY: the membarrier system call with no pointer arguments.
    unsafe { libc::syscall(libc::SYS_membarrier, cmd, 0, 0) == 0 }
}

/// A thread got its slot: the first one becomes the lone writer (if the kernel offers the
/// fence), any other switches the process to shared updates.
pub(crate) fn on_new_slot(slot: &'static Slot) {
    if SHARED.load(Acquire) {
        return;
    }
    let me = slot as *const Slot as *mut Slot;
    let solo = SOLO.load(Acquire);
    if solo == me {
        return; // the lone thread's slot, reused after that thread exited
    }
    if solo.is_null()
        && membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED)
        && SOLO
            .compare_exchange(ptr::null_mut(), me, AcqRel, Acquire)
            .is_ok()
    {
        return;
    }
    go_shared();
}

/// Switches every writer to locked updates (once).
#[cold]
fn go_shared() {
    while SWITCHING
        .compare_exchange_weak(false, true, Acquire, Relaxed)
        .is_err()
    {
        std::hint::spin_loop();
    }
    if !SHARED.load(Acquire) {
        SHARED.store(true, SeqCst);
        let solo = SOLO.load(Acquire);
        if !solo.is_null() {
            // After the barrier the lone thread's next update sees SHARED; one in flight has
            // set `busy`, which we now see, and we wait for it to finish.
            if !membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) {
                // Registered earlier, so this does not fail; if it did, the lone thread
                // might still be storing: wait for a quiet moment the safe way.
                std::sync::atomic::fence(SeqCst);
            }
            // SAFETY: slots are never freed.
            let s = unsafe { &*solo };
            while s.busy.load(Acquire) {
                std::hint::spin_loop();
            }
        }
    }
    SWITCHING.store(false, Release);
}

/// Opens an update section on this thread: returns whether the thread is the lone writer,
/// which may then update shared counters with plain loads and stores until [`end`]. Every
/// other thread makes the process shared first.
#[inline(always)]
pub(crate) fn begin(slot: Option<&Slot>) -> bool {
    if let Some(s) = slot {
        if try_solo(s) {
            return true;
        }
    }
    if !SHARED.load(Relaxed) {
        go_shared();
    }
    false
}

/// [`begin`]'s fast case: opens a section if `s` is the lone writer's slot; false (and no
/// section) otherwise, when the caller takes the general path.
#[inline(always)]
pub(crate) fn try_solo(s: &Slot) -> bool {
    if !SHARED.load(Relaxed) && ptr::eq(SOLO.load(Relaxed), s) {
        s.busy.store(true, Relaxed);
        compiler_fence(SeqCst);
        if !SHARED.load(Relaxed) {
            return true;
        }
        s.busy.store(false, Release);
    }
    false
}

/// Closes a section opened by [`begin`].
#[inline(always)]
pub(crate) fn end(slot: Option<&Slot>, solo: bool) {
    if solo {
        if let Some(s) = slot {
            s.busy.store(false, Release);
        }
    }
}

/// Adds to a shared counter: plainly for the lone writer, locked otherwise.
#[inline(always)]
pub(crate) fn add(a: &AtomicU64, n: u64, solo: bool) -> u64 {
    if solo {
        let v = a.load(Relaxed).wrapping_add(n);
        a.store(v, Relaxed);
        v
    } else {
        a.fetch_add(n, Relaxed).wrapping_add(n)
    }
}

/// Subtracts from a shared counter, as [`add`].
#[inline(always)]
pub(crate) fn sub(a: &AtomicU64, n: u64, solo: bool) -> u64 {
    add(a, n.wrapping_neg(), solo)
}

/// Raises a shared maximum.
#[inline(always)]
pub(crate) fn raise(a: &AtomicU64, v: u64, solo: bool) {
    if v > a.load(Relaxed) {
        if solo {
            a.store(v, Relaxed);
        } else {
            a.fetch_max(v, Relaxed);
        }
    }
}

/// Lowers a shared minimum.
#[inline(always)]
pub(crate) fn lower(a: &AtomicU64, v: u64, solo: bool) {
    if v < a.load(Relaxed) {
        if solo {
            a.store(v, Relaxed);
        } else {
            a.fetch_min(v, Relaxed);
        }
    }
}

/// A new peak was reached: program points learn it from the epoch.
#[inline(always)]
fn new_peak(solo: bool) {
    add(&MARK.epoch, 1, solo);
    if !crate::config::counts_only() {
        MARK.ticks.store(crate::clock::ticks(), Relaxed);
    }
}

/// Live bytes grew by `n`, inside a section.
#[inline(always)]
pub(crate) fn grow(solo: bool, n: u64) {
    let now = add(&LIVE.live.0, n, solo);
    if now > LIVE.peak.0.load(Relaxed) {
        if solo {
            LIVE.peak.0.store(now, Relaxed);
            new_peak(true);
        } else if LIVE.peak.0.fetch_max(now, Relaxed) < now {
            new_peak(false);
        }
    }
}

/// Live bytes shrank by `n`, inside a section.
#[inline(always)]
pub(crate) fn shrink(solo: bool, n: u64) {
    sub(&LIVE.live.0, n, solo);
}

/// The peak of live bytes so far.
pub(crate) fn peak() -> u64 {
    LIVE.peak.0.load(Relaxed)
}

/// How many times a new peak was reached.
#[inline(always)]
pub(crate) fn peak_epoch() -> u64 {
    MARK.epoch.load(Relaxed)
}

/// When the latest peak was reached, in clock ticks.
pub(crate) fn peak_ticks() -> u64 {
    MARK.ticks.load(Relaxed)
}

/// The shared live-byte counter, for tests that check it against the per-thread tallies.
pub(crate) fn counter() -> u64 {
    LIVE.live.0.load(Relaxed)
}
