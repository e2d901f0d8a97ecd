//! The reentrancy guard.
//!
//! Rule: any alloc-probe code that may allocate (reading the environment, building a report,
//! symbolising) runs while holding an [`Ignore`] guard. While the guard is held, the thread's
//! allocations go straight to the inner allocator and are neither counted nor tracked, so our
//! own bookkeeping never shows up in the user's figures and never recurses into itself.
//! A block allocated under the guard must also be freed under it.

use std::cell::Cell;

thread_local! {
    // A const-initialised `Cell<bool>` has no destructor, so it stays usable during thread-local
    // teardown.
    static IGNORING: Cell<bool> = const { Cell::new(false) };
}

/// Whether this thread is inside alloc-probe's own code.
#[inline(always)]
pub(crate) fn ignoring() -> bool {
    IGNORING.try_with(Cell::get).unwrap_or(false)
}

/// Holds the reentrancy flag; resets it on drop, also during a panic.
///
/// In `counts` mode blocks carry no header saying they were ignored, so a block allocated
/// under the guard and freed outside it would unbalance the counts: there the guard does
/// nothing, and alloc-probe's own allocations are counted like any other. In `sampled` mode
/// they are counted too, and the guard only keeps them out of the sample.
pub(crate) struct Ignore {
    was: bool,
}

impl Ignore {
    pub(crate) fn new() -> Ignore {
        // Without a probe (or in `counts` mode) there is nothing to ignore.
        if crate::config::mode_if_set().is_none_or(|m| m == crate::Mode::Counts) {
            return Ignore { was: ignoring() };
        }
        let was = IGNORING.try_with(|c| c.replace(true)).unwrap_or(false);
        Ignore { was }
    }
}

impl Drop for Ignore {
    fn drop(&mut self) {
        let _ = IGNORING.try_with(|c| c.set(self.was));
    }
}
