//! A thread's tally: its counts of events, its share of the live bytes, how it writes shared
//! counters, and its grant. Every tally is on one lock-free, never-shortened list, which the
//! peak and the totals read; a tally outlives its thread, and the next thread to claim it goes
//! on counting on it (the counts are cumulative process totals: no count is ever lost).

use std::cell::UnsafeCell;
use std::hint::cold_path;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicU8, Ordering::*};

use super::counter::{Access, Counter};
use super::event::{Event, Events, Kind};
use super::share::{Grant, Share};
use super::stats::Stats;

/// How a tally's owner updates shared counters (see `solo`): not known yet, so it must open a
/// section to learn; plainly, as the solo writer; with locked instructions, the process being
/// shared and the owner having seen it.
pub(crate) const UNKNOWN: u8 = 0;
pub(crate) const SOLO: u8 = 1;
pub(crate) const SHARED: u8 = 2;

/// Where a tally's owner stands with the solo writer's protocol (see `solo`).
#[repr(C)]
pub(crate) struct Writer {
    /// Set while the owner, as the solo writer, is inside an update section.
    pub(crate) busy: AtomicBool,
    /// [`UNKNOWN`], [`SOLO`] or [`SHARED`]; on a line the owner touches anyway, so that the
    /// allocator path reads no global.
    pub(crate) state: AtomicU8,
}

/// A thread's counters. In declaration order (`repr(C)`): the first 64 bytes are what every
/// allocator event touches.
#[repr(C)]
pub(crate) struct Tally {
    /// Allocations, frees and reallocations; written by the owner only.
    events: Events,
    /// The owner's share of the live bytes (see `peak`).
    pub(crate) share: Share,
    /// The sampler's countdown: bytes left until the next sampled block (see
    /// `tracking::sampler`). The counters never read it: it sits here because every event in
    /// `sampled` mode touches this line anyway. Only the owner touches it, and only once its
    /// writer state is known, which a sentinel's never is.
    countdown: UnsafeCell<i64>,
    pub(crate) writer: Writer,
    // The rest is touched rarely by the allocator path.
    /// Calls the inner allocator refused.
    failed: Counter,
    pub(crate) grant: Grant,
    /// The owner's highest net live bytes since its innermost scope opened (see `thread`):
    /// raised by the general path only.
    high_water: AtomicU64,
    /// Whether a live thread counts on this tally.
    owned: AtomicBool,
    /// The next tally on the list (see [`publish`]).
    next: AtomicPtr<Tally>,
}

// SAFETY: but for `countdown`, the fields are atomics; `countdown` is only touched by the
// owner (see there).
unsafe impl Sync for Tally {}

/// What [`Tally::quick`] did.
#[derive(Clone, Copy, PartialEq, Eq)]
#[must_use]
pub(crate) enum Quick {
    Counted,
    /// Counted, and the share is now past its limit: `solo::over_limit` must follow (before a
    /// freed block goes back to the allocator).
    PastLimit,
    /// Nothing: the writer state is not known (or this is a sentinel), so the general path
    /// must count it.
    NotCounted,
}

impl Tally {
    /// A tally with nothing counted, its share frozen and its writer state unknown.
    pub(crate) const fn new() -> Tally {
        Tally {
            events: Events::new(),
            share: Share::new(),
            countdown: UnsafeCell::new(0),
            writer: Writer {
                busy: AtomicBool::new(false),
                state: AtomicU8::new(UNKNOWN),
            },
            failed: Counter::new(0),
            grant: Grant::new(),
            high_water: AtomicU64::new(0),
            owned: AtomicBool::new(false),
            next: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// How the owner updates shared counters; only the owner may act on it.
    #[inline(always)]
    pub(crate) fn writer(&self) -> u8 {
        self.writer.state.load(Relaxed)
    }

    /// Counts event `e` outside an update section, the owner's writer state being `writer`
    /// (read by the caller): the quick path of the `counts` mode and of `sampled` mode's
    /// unsampled blocks, which touches no counter other threads write. The count comes first,
    /// so that the limit's test ends the path.
    #[inline(always)]
    pub(crate) fn quick<E: Event>(&self, writer: u8, e: E) -> Quick {
        let past = if writer == SOLO {
            self.events.count::<E>(Access::Solo);
            self.share.add(e, Access::Solo, |_| ())
        } else if writer == SHARED {
            self.events.count::<E>(Access::Solo);
            self.share.add(e, Access::Shared, |_| ())
        } else {
            cold_path();
            return Quick::NotCounted;
        };
        if past {
            Quick::PastLimit
        } else {
            Quick::Counted
        }
    }

    /// Counts event `e` inside an update section of access `a` (the general path), and raises
    /// the high-water. Returns whether the share is now past its limit.
    #[inline(always)]
    pub(crate) fn count<E: Event>(&self, e: E, a: Access) -> bool {
        self.events.count::<E>(Access::Solo);
        self.share.add(e, a, |now| self.raise_high_water(now))
    }

    /// Counts a call the inner allocator refused, on a tally other threads may share (the
    /// fallback) or not.
    pub(crate) fn count_failed(&self, a: Access) {
        self.failed.add(1, a);
    }

    /// Every event counted so far. Only the owner may rely on it between two of its events.
    #[inline(always)]
    pub(crate) fn events(&self) -> u64 {
        self.events.sum()
    }

    /// Allocations, reallocations and bytes allocated: what a tracked call measures.
    #[inline(always)]
    pub(crate) fn allocated(&self) -> (u64, u64, u64) {
        (
            self.events.get(Kind::Alloc),
            self.events.get(Kind::Realloc),
            self.share.sums().0,
        )
    }

    /// Everything counted so far, read one counter after another.
    pub(crate) fn counts(&self) -> Counts {
        let (ups, downs) = self.share.sums();
        Counts {
            allocs: self.events.get(Kind::Alloc),
            deallocs: self.events.get(Kind::Dealloc),
            reallocs: self.events.get(Kind::Realloc),
            bytes_allocated: ups,
            bytes_deallocated: downs,
            failed: self.failed.get(),
        }
    }

    /// The sampler's countdown.
    ///
    /// # Safety
    /// Only the owner may call this, after it saw its writer state known, and it must not hold
    /// two results at once.
    #[inline(always)]
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn countdown(&self) -> &mut i64 {
        // SAFETY: per the contract, this is the only reference.
        unsafe { &mut *self.countdown.get() }
    }

    /// Raises the high-water to `net`, the live bytes now.
    #[inline(always)]
    pub(crate) fn raise_high_water(&self, net: u64) {
        if (net as i64) > (self.high_water.load(Relaxed) as i64) {
            self.high_water.store(net, Relaxed);
        }
    }

    /// Starts a scope's high-water at the live bytes now; returns the enclosing scope's, for
    /// [`end_high_water`](Self::end_high_water). Owner only.
    pub(crate) fn start_high_water(&self) -> u64 {
        let saved = self.high_water.load(Relaxed);
        self.high_water.store(self.share.net(), Relaxed);
        saved
    }

    /// The high-water now.
    pub(crate) fn high_water(&self) -> u64 {
        self.high_water.load(Relaxed)
    }

    /// Ends a scope's high-water: gives the enclosing scope (whose high-water was `saved`) the
    /// higher of the two. Owner only.
    pub(crate) fn end_high_water(&self, saved: u64) {
        if (saved as i64) > (self.high_water() as i64) {
            self.high_water.store(saved, Relaxed);
        }
    }

    /// Takes the tally for the calling thread, if no live thread counts on it.
    pub(crate) fn try_own(&self) -> bool {
        !self.owned.load(Relaxed)
            && self
                .owned
                .compare_exchange(false, true, Acquire, Relaxed)
                .is_ok()
    }

    /// Whether a live thread counts on the tally.
    pub(crate) fn owned(&self) -> bool {
        self.owned.load(Relaxed)
    }

    /// Hands the tally back: its thread is exiting.
    pub(crate) fn disown(&self) {
        self.owned.store(false, Release);
    }

    /// Owns a new tally, before it is published.
    pub(crate) fn own_new(&self) {
        self.owned.store(true, Relaxed);
    }

    /// The previous owner's high-water means nothing to a new owner.
    pub(crate) fn reset_high_water(&self) {
        self.high_water.store(self.share.net(), Relaxed);
    }
}

static TALLIES: AtomicPtr<Tally> = AtomicPtr::new(ptr::null_mut());

/// Puts `t`, which is on no list yet, on the list of every tally.
pub(crate) fn publish(t: &'static Tally) {
    let me = t as *const Tally as *mut Tally;
    let mut head = TALLIES.load(Acquire);
    loop {
        t.next.store(head, Relaxed);
        match TALLIES.compare_exchange_weak(head, me, AcqRel, Acquire) {
            Ok(_) => return,
            Err(h) => head = h,
        }
    }
}

/// Every tally ever published, owned or not.
pub(crate) fn all() -> impl Iterator<Item = &'static Tally> {
    let mut p = TALLIES.load(Acquire) as *const Tally;
    std::iter::from_fn(move || {
        // SAFETY: tallies on the list are never freed.
        let t = unsafe { p.as_ref()? };
        p = t.next.load(Relaxed);
        Some(t)
    })
}

/// The tally of threads without one of their own (while a thread sets up its slot, after its
/// thread-local destructors gave it back, or when there was no memory for it): counted under
/// the peak's lock (see `peak::count_fallback`), but for refused calls. Not on the list.
pub(crate) static FALLBACK: Tally = Tally::new();

/// The cumulative counts of a tally, or a sum of them.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub allocs: u64,
    pub deallocs: u64,
    pub reallocs: u64,
    pub bytes_allocated: u64,
    pub bytes_deallocated: u64,
    pub failed: u64,
}

impl Counts {
    pub(crate) fn add(&mut self, o: &Counts) {
        self.allocs = self.allocs.wrapping_add(o.allocs);
        self.deallocs = self.deallocs.wrapping_add(o.deallocs);
        self.reallocs = self.reallocs.wrapping_add(o.reallocs);
        self.bytes_allocated = self.bytes_allocated.wrapping_add(o.bytes_allocated);
        self.bytes_deallocated = self.bytes_deallocated.wrapping_add(o.bytes_deallocated);
        self.failed = self.failed.wrapping_add(o.failed);
    }

    /// The delta `self - earlier` as [`Stats`], with the given peak.
    pub(crate) fn since(&self, earlier: &Counts, peak: u64) -> Stats {
        let allocs = self.allocs.wrapping_sub(earlier.allocs);
        let deallocs = self.deallocs.wrapping_sub(earlier.deallocs);
        let bytes_allocated = self.bytes_allocated.wrapping_sub(earlier.bytes_allocated);
        let bytes_deallocated = self
            .bytes_deallocated
            .wrapping_sub(earlier.bytes_deallocated);
        Stats {
            allocs,
            deallocs,
            reallocs: self.reallocs.wrapping_sub(earlier.reallocs),
            bytes_allocated,
            bytes_deallocated,
            live_blocks: allocs.saturating_sub(deallocs),
            live_bytes: bytes_allocated.saturating_sub(bytes_deallocated),
            peak_live_bytes: peak,
            failed: self.failed.wrapping_sub(earlier.failed),
        }
    }
}
