//! Update sections: who may update the counters the allocator path shares between threads
//! (program points' counters in `blocks`, and the peak in `peak`) with plain loads and stores.
//!
//! A locked add costs as much as a third of a small `malloc` + `free`. So while only one
//! thread allocates (most programs for much of their run, every single-threaded benchmark),
//! that thread is the *lone writer* and updates shared counters plainly. (When it exits, the
//! next thread to take its counter slot inherits the role.) The first time another thread
//! allocates, it switches the process to locked updates, for good, with an asymmetric fence:
//! it sets `CLOSING`, changes the lone writer's path, runs `membarrier` (a full barrier on every
//! thread of the process, without the lone thread paying for one on each update), waits until
//! the lone thread is not half-way through an update, hands its share to `peak` (which freezes
//! its limit and fences every thread again), and only then sets `SHARED`. Every other thread
//! waits for `SHARED` before its first update. Where `membarrier` is not available, updates
//! are locked from the start. A single-threaded program thus pays for no locked instruction
//! at all.
//!
//! An event that touches only its own thread's slot (every event in `counts` mode, and an
//! unsampled block's in `sampled` mode) needs no section: the second fence orders its plain
//! store and the limit it reads after it (see `peak::lone_grow`), and only passing the limit
//! opens a section. Each slot's `path` says which updates its owner makes, so the allocator
//! path reads no global flag.

use std::ptr;
use std::sync::atomic::{compiler_fence, AtomicBool, AtomicPtr, AtomicU64, Ordering::*};

use crate::spin::{backoff, SpinLock};
use crate::tally::Slot;

/// What a slot's `path` says its owner's updates are (on a line the owner touches anyway, so
/// the allocator path reads no global): not known yet, so ask [`begin`]; the lone writer's
/// plain ones; locked ones, the process being shared and the owner having seen it.
pub(crate) const UNKNOWN: u8 = 0;
pub(crate) const LONE: u8 = 1;
pub(crate) const LOCKED: u8 = 2;

/// The slot of the one thread allowed plain updates, until the switch. The slot's own `path`
/// says the same.
static SOLO: AtomicPtr<Slot> = AtomicPtr::new(ptr::null_mut());
/// The switch to locked updates has begun: no new lone writer.
static CLOSING: AtomicBool = AtomicBool::new(false);
/// The switch is complete: every thread updates shared counters with locked instructions.
static SHARED: AtomicBool = AtomicBool::new(false);
/// Held by the thread making the switch.
static SWITCHING: SpinLock = SpinLock::new();

const MEMBARRIER_CMD_GLOBAL: libc::c_long = 1;
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
    let solo = SOLO.load(SeqCst);
    if solo == me {
        return; // the lone thread's slot, reused after that thread exited
    }
    if solo.is_null()
        && !CLOSING.load(SeqCst)
        && membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED)
    {
        // Flagged before it is published, so a switch that finds it also clears the flag.
        slot.path.store(LONE, SeqCst);
        let published = SOLO
            .compare_exchange(ptr::null_mut(), me, SeqCst, SeqCst)
            .is_ok();
        // A switch that began meanwhile may not have seen us: then we are not alone after all.
        if published && !CLOSING.load(SeqCst) {
            crate::peak::become_lone_writer(slot);
            return;
        }
        slot.path.store(UNKNOWN, SeqCst);
    }
    go_shared();
}

/// A full memory barrier on every thread of the process, in its own instruction stream.
/// The expedited command was registered before any thread became the lone writer, so it
/// does not fail; the global one is the slow, always-available equivalent.
pub(crate) fn fence_all_threads() {
    if !membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) {
        membarrier(MEMBARRIER_CMD_GLOBAL);
    }
}

/// Switches every writer to locked updates (once), or waits until another thread has.
#[cold]
fn go_shared() {
    SWITCHING.lock();
    if !SHARED.load(Acquire) {
        CLOSING.store(true, SeqCst);
        let solo = SOLO.load(SeqCst);
        if !solo.is_null() {
            // SAFETY: slots are never freed.
            let s = unsafe { &*solo };
            s.path.store(UNKNOWN, SeqCst);
            // After the barrier the lone thread's next update sees `path` changed; one in
            // flight has set `busy`, which we now see, and we wait for it to finish.
            fence_all_threads();
            let mut spins = 0;
            while s.busy.load(Acquire) {
                backoff(&mut spins);
            }
            crate::peak::adopt_lone_writer(s);
        }
        SHARED.store(true, SeqCst);
    }
    SWITCHING.unlock();
}

/// Takes the switch's lock before `fork`, so the child never inherits it held.
pub(crate) fn lock_for_fork() {
    SWITCHING.lock();
}

/// Releases it after `fork`. In the child, the thread that called `fork` is the only one:
/// a lone writer that was another thread is gone, possibly half-way through an update, so
/// its slot is marked quiet for the switch the child's next thread will make.
pub(crate) fn unlock_after_fork(child: bool, mine: Option<&Slot>) {
    if child {
        for s in crate::tally::slots() {
            if !mine.is_some_and(|m| ptr::eq(m, s)) {
                s.busy.store(false, Release);
            }
        }
    }
    SWITCHING.unlock();
}

/// Whether the switch to locked updates is complete.
pub(crate) fn shared() -> bool {
    SHARED.load(Acquire)
}

/// Opens an update section on this thread: returns whether the thread is the lone writer,
/// which may then update shared counters with plain loads and stores until [`end`]. Every
/// other thread makes the process shared first (or waits until it is).
#[inline(always)]
pub(crate) fn begin(slot: Option<&Slot>) -> bool {
    if let Some(s) = slot {
        match s.path.load(Relaxed) {
            LOCKED => return false,
            LONE if try_solo(s) => return true,
            _ => {}
        }
    }
    to_locked(slot);
    false
}

/// The thread is not (or no longer) the lone writer: makes the process shared if it is not
/// yet, or waits until a switch in progress is done, and records in the slot that it was.
#[cold]
#[inline(never)]
pub(crate) fn to_locked(slot: Option<&Slot>) {
    ensure_shared();
    if let Some(s) = slot {
        // Nobody else writes it now: the switch has cleared a lone writer's path already.
        // Released: a settlement that reads `LOCKED` (acquiring) then sees the thread's
        // earlier plain stores (see `peak::settle`).
        s.path.store(LOCKED, Release);
    }
}

/// Makes the process shared if it is not yet, or waits until a switch in progress is done.
#[inline(always)]
pub(crate) fn ensure_shared() {
    if !SHARED.load(Acquire) {
        go_shared();
    }
}

/// Opens a section if `s` is the lone writer's slot; false (and no section) otherwise, when
/// the caller takes the general path.
#[inline(always)]
pub(crate) fn try_solo(s: &Slot) -> bool {
    if s.path.load(Relaxed) == LONE {
        s.busy.store(true, Relaxed);
        compiler_fence(SeqCst);
        if s.path.load(Relaxed) == LONE {
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
