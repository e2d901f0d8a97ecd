//! A thread's tracking state: what the allocator path of the `full` and `sampled` modes needs
//! to know about its own thread. It lives in the thread's slot (see `thread`), and only the
//! slot's owner touches it.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use super::calls::Calls;
use super::capture::Captured;
use super::points::{Recent, UNIT_FULL};
use super::sampler::Sampler;
use super::tree::Trail;
use crate::sys::unwind::Rules;
use crate::sys::{clock, stack};

/// Reading the time-stamp counter costs as much as the rest of recording a block in a
/// virtual machine, so in `full` mode a thread reads it on every 64th recorded event only. While a thread allocates steadily, its clock then lags by the time of fewer
/// than 64 events, at births and deaths alike. A thread that goes quiet for a while leaves
/// its clock behind until its 64th next event: a block that lived across the pause can be
/// given a lifetime up to the pause's length too short.
const CLOCK_EVERY: u32 = 64;

static SERIALS: AtomicU64 = AtomicU64::new(1);

/// A thread's tracking state. Starts as zeroed memory in a new slot, then [`Tracker::start`].
/// In declaration order (`repr(C)`): what most events touch comes first.
#[repr(C)]
pub(crate) struct Tracker {
    /// The block this thread's last allocator event produced, if that event was an
    /// allocation or reallocation: a free of it next is a temporary.
    pub last_alloc: usize,
    /// `sampled` mode: the thread's event count (`Tally::events`) just before `last_alloc`'s
    /// birth or move. Unsampled events leave `last_alloc` be, so a sampled block's free first
    /// compares counts (see `alloc::sampled`).
    pub last_event: u64,
    pub sampler: Sampler,
    /// Stack bounds, for safe frame walking and the frame test; 0 until the thread's first
    /// recorded block reads them (see [`Tracker::read_bounds`]).
    pub lo: usize,
    pub hi: usize,
    bounds_read: bool,
    /// The outermost frame this thread's stack walks have reached (see `capture`).
    pub bottom: usize,
    /// A process-unique number for this thread.
    pub serial: u64,
    pub calls: Calls,
    /// Scratch space for stack capture, kept here rather than on a possibly small stack.
    pub cap: Captured,
    /// A coarse clock for block lifetimes (see [`Tracker::now`]).
    clock: u64,
    clock_events: u32,
    /// The program points of the stacks this thread captured lately.
    pub recent: Recent,
    /// The trail of the last stack this thread added to the call tree.
    pub trail: Trail,
    /// The unwinder's rules, for stacks through functions without frame pointers.
    pub rules: Rules,
}

impl Tracker {
    /// Sets the state up for the thread that now owns the slot. Returns the first gap to a
    /// sample (see `sampler`).
    pub(crate) fn start(&mut self) -> i64 {
        let serial = SERIALS.fetch_add(1, Relaxed);
        // Reset field by field: a whole new tracker is too large to build on a small stack.
        self.last_alloc = 0;
        self.clock = 0;
        self.calls.reset();
        self.lo = 0;
        self.hi = 0;
        self.bounds_read = false;
        self.bottom = 0;
        self.serial = serial;
        self.sampler.seed((serial << 32) ^ clock::ticks());
        self.sampler.gap()
    }

    /// Moves the thread serials on by `n`, as if that many threads had started: how tests
    /// reach the serials of a long-running process.
    #[cfg(feature = "testing")]
    pub(crate) fn skip_serials(n: u64) {
        SERIALS.fetch_add(n, Relaxed);
    }

    /// Reads the thread's stack bounds, once; whether they are known. Called by the first
    /// recorded block rather than when the slot is claimed: `counts` mode walks no stacks, and
    /// reading the bounds allocates inside libc, which would leave the heap laid out
    /// differently from the same program's without us.
    #[cold]
    #[inline(never)]
    pub(crate) fn read_bounds(&mut self) -> bool {
        if !self.bounds_read {
            self.bounds_read = true;
            (self.lo, self.hi) = stack::bounds();
        }
        self.hi != 0
    }

    /// The thread's clock for a recorded event of a block of weight `w`, in ticks. In `full`
    /// mode (`w` is [`UNIT_FULL`]) a coarse one: the time-stamp counter as of at most
    /// `CLOCK_EVERY` recorded events ago. A sampled block's events are rare, so they read the
    /// counter.
    #[inline(always)]
    pub(crate) fn now(&mut self, w: u64) -> u64 {
        self.clock_events = self.clock_events.wrapping_add(1);
        if w != UNIT_FULL || self.clock_events.is_multiple_of(CLOCK_EVERY) || self.clock == 0 {
            self.clock = clock::ticks();
        }
        self.clock
    }
}
