//! The tracked calls running on a thread, innermost last. Each call gets an invocation
//! number, unique in the process, which the records of its blocks carry, so that a free can
//! tell exactly whether the call that allocated the block is still running: on the freeing
//! thread, where an async call's later polls keep their number.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use super::functions::{self, Figures, FnInfo, FnTable};
use super::header::INVOCATION_BITS;

/// The next block of invocation numbers to hand out (0 stands for "no call").
static INVOCATIONS: AtomicU64 = AtomicU64::new(1);
/// Invocation numbers a thread takes at a time, so that a call rarely touches the shared
/// counter.
const BLOCK: u64 = 1 << 12;

/// Most tracked calls nested on one thread that get a frame of their own; deeper ones (deep
/// recursion) are counted as calls, and their allocations go to the deepest frame.
pub(crate) const MAX_DEPTH: usize = 64;
/// Allocation stacks remembered per budgeted call, for the message when it goes over.
pub(crate) const BUDGET_POINTS: usize = 16;

/// One running tracked call.
#[derive(Clone, Copy)]
pub(crate) struct Call {
    /// Its function's index (see `functions`).
    pub index: u32,
    pub invocation: u64,
    /// The thread's allocations, reallocations, bytes allocated and live bytes at its start.
    pub start_allocs: u64,
    pub start_reallocs: u64,
    pub start_bytes: u64,
    pub start_net: u64,
    /// The enclosing scope's high-water, which the call's scope gives back when it closes
    /// (see `thread::Scope::into_saved`).
    pub saved_high_water: u64,
    /// Inclusive figures of finished direct callees, to subtract for the exclusive ones.
    pub child_allocs: u64,
    pub child_reallocs: u64,
    pub child_bytes: u64,
    /// Clock ticks at its start; 0 when the call is not timed.
    pub start_ticks: u64,
    /// Whether this frame starts a call (false for an async call's later polls).
    pub count_call: bool,
    /// Whether the call has a budget, and the stacks of the allocations it made.
    pub budgeted: bool,
    pub points: [u32; BUDGET_POINTS],
    pub npoints: u32,
}

/// The tracked calls running on one thread. Starts as zeroed memory in a new slot.
pub(crate) struct Calls {
    pub depth: usize,
    /// Calls past [`MAX_DEPTH`], which share the deepest frame.
    pub overflow: usize,
    /// Running calls with a budget.
    pub budgeted: usize,
    /// The thread's next invocation number, and the end of its block of them.
    next_invocation: u64,
    invocations_end: u64,
    /// Counts calls, to time one in `TIME_EVERY` (see `api::track`).
    pub timing: u32,
    /// The last function pushed and its index: hot loops call the same function.
    last_info: *const FnInfo,
    last_index: u32,
    pub frames: [Call; MAX_DEPTH],
}

impl Calls {
    /// For a new owner of the slot.
    pub(crate) fn reset(&mut self) {
        self.depth = 0;
        self.overflow = 0;
        self.budgeted = 0;
    }

    /// The invocation number of the innermost running tracked call, or 0.
    #[inline]
    pub(crate) fn current(&self) -> u64 {
        if self.depth == 0 {
            0
        } else {
            self.frames[self.depth - 1].invocation
        }
    }

    /// The innermost running call's function index.
    #[inline]
    pub(crate) fn current_index(&self) -> u32 {
        self.frames[self.depth - 1].index
    }

    /// The running call with this invocation number as a record keeps it, if it is still
    /// running.
    #[inline]
    pub(crate) fn find(&self, invocation: u64) -> Option<&Call> {
        self.frames[..self.depth]
            .iter()
            .rev()
            .find(|f| f.invocation & INVOCATION_BITS == invocation)
    }

    /// Remembers an allocation's stack in every running budgeted call.
    #[inline]
    pub(crate) fn note_point(&mut self, point: u32) {
        if self.budgeted == 0 {
            return;
        }
        for f in self.frames[..self.depth].iter_mut().filter(|f| f.budgeted) {
            if (f.npoints as usize) < BUDGET_POINTS {
                f.points[f.npoints as usize] = point;
            }
            f.npoints = f.npoints.saturating_add(1);
        }
    }

    /// Gives `each` the figures of every call still running, by function index, as if it
    /// returned now, counted as in flight; `allocated` is the thread's (allocations,
    /// reallocations, bytes) and `high_water` its innermost scope's, both read now. A later
    /// poll of an async call adds its figures but no call (its first poll counted the call).
    pub(crate) fn running(
        &self,
        allocated: (u64, u64, u64),
        high_water: u64,
        mut each: impl FnMut(u32, &Figures),
    ) {
        let (allocs, reallocs, bytes) = allocated;
        let mut high = high_water;
        // The inclusive figures of the running callee, innermost first.
        let mut callee = (0, 0, 0);
        for f in self.frames[..self.depth].iter().rev() {
            let incl = (
                allocs.wrapping_sub(f.start_allocs),
                reallocs.wrapping_sub(f.start_reallocs),
                bytes.wrapping_sub(f.start_bytes),
            );
            let own = |incl: u64, done: u64, running: u64| {
                incl.saturating_sub(done.saturating_add(running))
            };
            let max_live = high.wrapping_sub(f.start_net);
            let calls = u64::from(f.count_call);
            each(
                f.index,
                &Figures {
                    calls,
                    in_flight: calls,
                    allocs: own(incl.0, f.child_allocs, callee.0),
                    reallocs: own(incl.1, f.child_reallocs, callee.1),
                    bytes: own(incl.2, f.child_bytes, callee.2),
                    incl_allocs: incl.0,
                    incl_reallocs: incl.1,
                    incl_bytes: incl.2,
                    max_live: if (max_live as i64) < 0 { 0 } else { max_live },
                    ..Figures::default()
                },
            );
            callee = incl;
            // The enclosing call's scope had this high-water when this call opened (signed,
            // as `Tally::end_high_water` compares: a thread's net goes below zero when it
            // frees other threads' blocks).
            if (f.saved_high_water as i64) > (high as i64) {
                high = f.saved_high_water;
            }
        }
    }

    /// Counts the calls still running, as in flight, in `fns` (the thread's table), and
    /// forgets them: the thread is ending without returning from them, as under
    /// `process::exit`, whose report would otherwise miss them.
    pub(crate) fn settle(&mut self, allocated: (u64, u64, u64), high_water: u64, fns: &FnTable) {
        self.running(allocated, high_water, |i, f| {
            let (counts, a) = functions::counts_of(fns, i);
            counts.add(f, a);
        });
        self.reset();
    }

    /// A fresh invocation number, never 0 and never given before in this process.
    pub(crate) fn next_invocation(&mut self) -> u64 {
        if self.next_invocation == self.invocations_end {
            self.next_invocation = INVOCATIONS.fetch_add(BLOCK, Relaxed);
            self.invocations_end = self.next_invocation + BLOCK;
        }
        let n = self.next_invocation;
        self.next_invocation += 1;
        if n & INVOCATION_BITS == 0 {
            // A record would keep it as 0, "no call".
            return self.next_invocation();
        }
        n
    }

    /// Moves this thread's invocation numbers on by `n`, as if that many calls had run: how
    /// tests reach the numbers of a long-running process. For a test on one thread: the
    /// numbers it moves to may lie in another thread's block.
    #[cfg(feature = "testing")]
    pub(crate) fn skip(&mut self, n: u64) {
        self.next_invocation = self.next_invocation.max(1) + n;
        self.invocations_end = self.next_invocation + BLOCK;
        INVOCATIONS.fetch_max(self.invocations_end, Relaxed);
    }

    /// The dense index of `info`'s function (see `functions::index`), from a one-entry cache.
    #[inline]
    pub(crate) fn index_of(&mut self, info: &'static FnInfo) -> Option<u32> {
        if std::ptr::eq(self.last_info, info) {
            return Some(self.last_index);
        }
        let index = functions::index(info)?;
        self.last_info = info;
        self.last_index = index;
        Some(index)
    }
}
