//! Per-thread tracking state, kept in the thread's counter slot and touched only by its owner.

use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

use crate::scope::ScopeStack;
use crate::stack::{self, Captured};

// A `Local` starts as zeroed memory in a new slot (see `tally::new_slot`), then `start`.

/// State the allocator path needs about its own thread. In declaration order (`repr(C)`):
/// what most events touch comes first, next to the slot's counters.
#[repr(C)]
pub(crate) struct Local {
    /// The block this thread's last allocator event produced, if that event was an
    /// allocation or reallocation: a free of it next is a temporary.
    pub last_alloc: usize,
    /// `sampled` mode: the thread's event count (`Slot::events`) just before `last_alloc`'s
    /// birth or move. Unsampled events leave `last_alloc` be, so a sampled block's free first
    /// compares counts (see `sampled::catch_up`).
    pub last_event: u64,
    /// The sampler's random state (its countdown is in the slot's head: `Head::sample_left`).
    pub rng: u64,
    /// Stack bounds, for safe frame walking and frame-liveness tests; 0 until the thread's
    /// first tracked block reads them (see [`Local::read_bounds`]).
    pub lo: usize,
    pub hi: usize,
    bounds_read: bool,
    /// The outermost frame this thread's stack walks have reached (see `stack::capture`).
    pub bottom: usize,
    /// A process-unique number for this thread (24 bits kept in block headers).
    pub serial: u32,
    /// The tracked calls running on this thread.
    pub scopes: ScopeStack,
    /// Scratch space for stack capture, kept here rather than on a possibly small stack.
    pub cap: Captured,
    /// A coarse clock for block lifetimes (see [`Local::now`]).
    clock: u64,
    clock_events: u32,
    /// The program points of the stacks this thread captured lately, by stack and by where
    /// the walk started.
    pub recent: crate::sites::Recent,
    pub guesses: crate::sites::Guesses,
}

/// Reading the time-stamp counter costs 12 to 20 ns in a virtual machine, as much as the
/// rest of tracking a block, so in `full` mode a thread reads it on every 64th tracked event
/// only. While a thread allocates steadily, its clock then lags by the time of fewer than 64
/// events, at births and deaths alike. A thread that goes quiet for a while leaves its clock
/// behind until its 64th next event: a block that lived across the pause can be given a
/// lifetime up to the pause's length too short. (Every 16th event cost about 1.5% more in
/// the overhead bench.)
const CLOCK_EVERY: u32 = 64;

static SERIALS: AtomicU32 = AtomicU32::new(1);

impl Local {
    /// Sets the state up for the thread that now owns the slot.
    pub(crate) fn start(&mut self) {
        let serial = SERIALS.fetch_add(1, Relaxed) & 0xFF_FFFF;
        // Reset field by field: a whole new `Local` is too large to build on a small stack.
        self.last_alloc = 0;
        self.clock = 0;
        self.scopes.reset();
        self.lo = 0;
        self.hi = 0;
        self.bounds_read = false;
        self.bottom = 0;
        self.serial = serial;
        self.rng = ((u64::from(serial) << 32) ^ crate::clock::ticks()) | 1;
    }

    /// Reads the thread's stack bounds, once; whether they are known. Called by the first
    /// tracked block rather than when the slot is claimed: `counts` mode walks no stacks, and
    /// reading the bounds allocates inside libc (`pthread_getattr_np`: a CPU set, and for the
    /// main thread a buffered read of /proc/self/maps), which would leave the heap laid out
    /// differently from the same program's without us (callgrind: 0.7% more instructions in
    /// glibc's malloc in the overhead bench).
    #[cold]
    #[inline(never)]
    pub(crate) fn read_bounds(&mut self) -> bool {
        if !self.bounds_read {
            self.bounds_read = true;
            (self.lo, self.hi) = stack::thread_bounds();
        }
        self.hi != 0
    }

    /// The thread's clock for a tracked event of a block of weight `w`, in ticks. In `full`
    /// mode (`w` is [`UNIT_FULL`](crate::sites::UNIT_FULL)) a coarse one: the time-stamp
    /// counter as of at most `CLOCK_EVERY` tracked events ago. A sampled block's events are
    /// rare, so they read the counter.
    #[inline(always)]
    pub(crate) fn now(&mut self, w: u64) -> u64 {
        self.clock_events = self.clock_events.wrapping_add(1);
        if w != crate::sites::UNIT_FULL
            || self.clock_events.is_multiple_of(CLOCK_EVERY)
            || self.clock == 0
        {
            self.clock = crate::clock::ticks();
        }
        self.clock
    }

    /// A fresh gap in bytes to the next sample: exponential with mean the sample rate, so the
    /// samples form a Poisson process over allocated bytes.
    pub(crate) fn sample_gap(&mut self) -> i64 {
        (-(crate::config::sample_rate() as f64) * self.uniform().ln()) as i64
    }

    /// A uniform random number in (0, 1].
    pub(crate) fn uniform(&mut self) -> f64 {
        // xorshift64*: fast, and plenty for choosing sample points.
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        let r = x.wrapping_mul(0x2545_F491_4F6C_DD1D);
        ((r >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }
}
