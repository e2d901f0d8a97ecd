//! The reentrancy guard.
//!
//! Rule: any alloc-probe code that may allocate (reading the environment, building a report,
//! symbolising) runs while holding an [`Ignore`] guard. While it is held, the `full` mode
//! neither counts nor records the thread's allocations, and marks them so that their frees
//! stay uncounted too; the `sampled` mode counts them but never samples them; the `counts`
//! mode does not look (its blocks carry nothing that could tell a later free to skip them, so
//! it counts alloc-probe's own allocations like any other). Either way our own bookkeeping
//! never recurses into itself.

use std::cell::Cell;

thread_local! {
    // A const-initialised `Cell<bool>` has no destructor, so it stays usable during
    // thread-local teardown.
    static IGNORING: Cell<bool> = const { Cell::new(false) };
}

/// Whether this thread is inside alloc-probe's own code.
#[inline(always)]
pub(crate) fn ignoring() -> bool {
    IGNORING.try_with(Cell::get).unwrap_or(false)
}

/// Holds the reentrancy flag; resets it on drop, also during a panic.
pub(crate) struct Ignore {
    was: bool,
}

impl Ignore {
    pub(crate) fn new() -> Ignore {
        let was = IGNORING.try_with(|c| c.replace(true)).unwrap_or(false);
        Ignore { was }
    }
}

impl Drop for Ignore {
    fn drop(&mut self) {
        let _ = IGNORING.try_with(|c| c.set(self.was));
    }
}
