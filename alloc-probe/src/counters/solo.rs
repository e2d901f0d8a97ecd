//! The solo writer: who may update the counters every thread shares (program points' counters
//! in `tracking::points`, and the peak) with plain loads and stores.
//!
//! While only one thread allocates (most programs for much of their run, every
//! single-threaded benchmark), that thread is the solo writer and updates shared counters
//! plainly, inside an update section ([`Section`]). When it exits, the next thread to take its
//! tally inherits the role. The first time another thread allocates, it makes the switch to
//! shared updates, for good, with an asymmetric fence: it sets `CLOSING`, changes the solo
//! writer's state, runs the process-wide barrier (a full barrier on every thread, without the
//! solo writer paying for one on each update), waits until the solo writer is not inside a
//! section, hands its share to the peak (which freezes its limit and fences every thread
//! again), and only then sets `SWITCHED`. Every other thread waits for `SWITCHED` before its
//! first update. Where the platform has no such barrier, updates are shared from the start. A
//! single-threaded program thus pays for no locked instruction at all.
//!
//! An event that touches only its own thread's tally (every event in `counts` mode, and an
//! unsampled block's in `sampled` mode) needs no section: the second fence orders its plain
//! store and the limit it reads after it (see `Share::add`), and only passing the limit opens
//! a section ([`over_limit`]). Each tally's writer state says which updates its owner makes,
//! so the allocator path reads no global flag.

use std::ptr;
use std::sync::atomic::{compiler_fence, AtomicBool, AtomicPtr, Ordering::*};

use super::counter::Access;
use super::peak;
use super::tally::{self, Tally, SHARED, SOLO, UNKNOWN};
use crate::sys::barrier;
use crate::sys::spin::{backoff, SpinLock};

/// The solo writer's tally, until the switch. The tally's own writer state says the same.
static WRITER: AtomicPtr<Tally> = AtomicPtr::new(ptr::null_mut());
/// The switch to shared updates has begun: no new solo writer.
static CLOSING: AtomicBool = AtomicBool::new(false);
/// The switch is complete: every thread updates shared counters with locked instructions.
static SWITCHED: AtomicBool = AtomicBool::new(false);
/// Held by the thread making the switch.
static SWITCHING: SpinLock = SpinLock::new();

/// A thread took tally `t`: the first one becomes the solo writer (if the platform offers the
/// barrier), any other makes the switch.
pub(crate) fn on_new_owner(t: &'static Tally) {
    if SWITCHED.load(Acquire) {
        return;
    }
    let me = t as *const Tally as *mut Tally;
    let solo = WRITER.load(SeqCst);
    if solo == me {
        return; // the solo writer's tally, taken again after that thread exited
    }
    if solo.is_null() && !CLOSING.load(SeqCst) && barrier::register() {
        // Flagged before it is published, so a switch that finds it also clears the flag.
        t.writer.state.store(SOLO, SeqCst);
        let published = WRITER
            .compare_exchange(ptr::null_mut(), me, SeqCst, SeqCst)
            .is_ok();
        // A switch that began meanwhile may not have seen us: then we are not alone after all.
        if published && !CLOSING.load(SeqCst) {
            peak::become_solo(t);
            return;
        }
        t.writer.state.store(UNKNOWN, SeqCst);
    }
    switch();
}

/// Switches every writer to shared updates (once), or waits until another thread has.
#[cold]
fn switch() {
    SWITCHING.lock();
    if !SWITCHED.load(Acquire) {
        CLOSING.store(true, SeqCst);
        let solo = WRITER.load(SeqCst);
        // SAFETY: tallies are never freed.
        if let Some(t) = unsafe { solo.as_ref() } {
            t.writer.state.store(UNKNOWN, SeqCst);
            // After the barrier the solo writer's next update sees its state changed; one in
            // flight has set `busy`, which we now see, and we wait for it to finish.
            barrier::fence_all_threads();
            let mut spins = 0;
            while t.writer.busy.load(Acquire) {
                backoff(&mut spins);
            }
            peak::adopt(t);
        }
        SWITCHED.store(true, SeqCst);
    }
    SWITCHING.unlock();
}

/// Makes the process shared if it is not yet, or waits until a switch in progress is done.
#[inline(always)]
pub(crate) fn ensure_shared() {
    if !SWITCHED.load(Acquire) {
        switch();
    }
}

/// Whether the switch to shared updates is complete.
pub(crate) fn shared() -> bool {
    SWITCHED.load(Acquire)
}

/// An update section on this thread: while it is open, the solo writer may update shared
/// counters with plain loads and stores; any other thread has made the process shared first
/// (or waited until it was). Closed when dropped.
pub(crate) struct Section<'a> {
    tally: Option<&'a Tally>,
    /// Whether `tally` is the solo writer's, whose `busy` flag the section holds set.
    solo: bool,
}

impl<'a> Section<'a> {
    /// Opens a section for a thread with tally `t` (`None`: a thread without one).
    #[inline(always)]
    pub(crate) fn open(t: Option<&'a Tally>) -> Section<'a> {
        let solo = match t {
            Some(t) => match t.writer.state.load(Relaxed) {
                SHARED => false,
                SOLO if try_solo(t) => true,
                _ => to_shared(Some(t)),
            },
            None => to_shared(None),
        };
        Section { tally: t, solo }
    }

    /// The tally of the thread that opened the section (`None`: a thread without one).
    #[inline(always)]
    pub(crate) fn tally(&self) -> Option<&'a Tally> {
        self.tally
    }

    /// How the section updates shared counters.
    #[inline(always)]
    pub(crate) fn access(&self) -> Access {
        if self.solo {
            Access::Solo
        } else {
            Access::Shared
        }
    }
}

impl Drop for Section<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        if self.solo {
            if let Some(t) = self.tally {
                t.writer.busy.store(false, Release);
            }
        }
    }
}

/// Sets `busy` if `t` is the solo writer's tally, and says whether it is (and stays so until
/// `busy` is cleared: the switch waits for that).
#[inline(always)]
fn try_solo(t: &Tally) -> bool {
    let w = &t.writer;
    if w.state.load(Relaxed) == SOLO {
        w.busy.store(true, Relaxed);
        compiler_fence(SeqCst);
        if w.state.load(Relaxed) == SOLO {
            return true;
        }
        w.busy.store(false, Release);
    }
    false
}

/// The thread is not (or no longer) the solo writer: makes the process shared if it is not
/// yet, or waits until a switch in progress is done, and records in its tally that it was.
/// Returns false: the section's updates are shared.
#[cold]
#[inline(never)]
fn to_shared(t: Option<&Tally>) -> bool {
    ensure_shared();
    if let Some(t) = t {
        // Nobody else writes it now: the switch has cleared a solo writer's state already.
        // Released: a settlement that reads `SHARED` (acquiring) then sees the thread's
        // earlier plain stores (see `peak::freeze_others`).
        t.writer.state.store(SHARED, Release);
    }
    false
}

/// After a quick count (outside a section) left `t`'s share past its limit, which the switch
/// freezes: a new peak if the thread is still the solo writer, which a section makes sure
/// of; otherwise the share is settled under the lock, as any.
#[cold]
#[inline(never)]
pub(crate) fn over_limit(t: &Tally) {
    #[cfg(feature = "testing")]
    testing::pause();
    let section = Section::open(Some(t));
    peak::past_limit(t, section.access(), t.share.net());
}

/// Takes the switch's lock before `fork`, so the child never inherits it held.
pub(crate) fn lock_for_fork() {
    SWITCHING.lock();
}

/// Releases it after `fork`. In the child, the thread that called `fork` is the only one:
/// a solo writer that was another thread is gone, possibly inside a section, so its tally is
/// marked quiet for the switch the child's next thread will make.
pub(crate) fn unlock_after_fork(child: bool, mine: Option<&Tally>) {
    if child {
        for t in tally::all() {
            if !mine.is_some_and(|m| ptr::eq(m, t)) {
                t.writer.busy.store(false, Release);
            }
        }
    }
    SWITCHING.unlock();
}

/// A pause in [`over_limit`], for the tests of the switch (feature `testing`): so that a test
/// can make the process shared while the solo writer has stored its share and not yet raised
/// the peak, a moment otherwise a few instructions long.
#[cfg(feature = "testing")]
pub(crate) mod testing {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};

    /// Nanoseconds the next [`pause`] lasts.
    static PAUSE: AtomicU64 = AtomicU64::new(0);
    static PAUSED: AtomicBool = AtomicBool::new(false);

    pub(crate) fn pause() {
        // A plain load first: no locked instruction while no test asked for a pause.
        if PAUSE.load(Relaxed) == 0 {
            return;
        }
        let ns = PAUSE.swap(0, SeqCst);
        if ns != 0 {
            PAUSED.store(true, SeqCst);
            crate::sys::thread::sleep(ns);
        }
    }

    /// The next `over_limit` pauses for `ns` nanoseconds before it raises the peak or renews
    /// the grant.
    pub(crate) fn pause_next(ns: u64) {
        PAUSE.store(ns, SeqCst);
    }

    /// Whether a pause asked by [`pause_next`] has begun.
    pub(crate) fn paused() -> bool {
        PAUSED.load(SeqCst)
    }
}
