//! The tracked calls running on a thread, innermost last. Each call gets a per-thread
//! invocation number, which the records of its blocks carry, so that a free can tell exactly
//! whether the call that allocated the block is still running.

use super::functions::{self, FnInfo};

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
    pub invocation: u32,
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
    next_invocation: u32,
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
    pub(crate) fn current(&self) -> u32 {
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

    /// The running call with this invocation number, if it is still running.
    #[inline]
    pub(crate) fn find(&self, invocation: u32) -> Option<&Call> {
        self.frames[..self.depth]
            .iter()
            .rev()
            .find(|f| f.invocation == invocation)
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

    /// A fresh invocation number: 24 bits (as records keep them), never 0.
    pub(crate) fn next_invocation(&mut self) -> u32 {
        self.next_invocation = (self.next_invocation + 1) & 0xFF_FFFF;
        if self.next_invocation == 0 {
            self.next_invocation = 1;
        }
        self.next_invocation
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
