//! Fork safety: every lock the allocator path takes is taken around `fork`, so that a child
//! never inherits a table half-updated by another thread, or a lock held by a thread it lacks;
//! so is the one around alloc-probe's symbol resolution, so that a child can build a report
//! (unless the program itself was inside the `backtrace` crate on another thread).

use crate::counters::{peak, solo};
use crate::report::symbols;
use crate::sys::hooks;
use crate::thread;
use crate::tracking::{side, tree};

pub(super) fn install() {
    hooks::at_fork(before_fork, after_fork_parent, after_fork_child);
}

// Resolution's lock first: its holder allocates, so may wait for any of the others. Then the
// switch's lock: its holder may wait for the solo writer, which may wait for the call tree's
// lock.
extern "C" fn before_fork() {
    symbols::lock_for_fork();
    solo::lock_for_fork();
    tree::lock();
    side::lock_for_fork();
    peak::lock_for_fork();
}

extern "C" fn after_fork_parent() {
    after_fork(false);
}

extern "C" fn after_fork_child() {
    after_fork(true);
}

fn after_fork(child: bool) {
    peak::unlock_after_fork(child && solo::shared());
    side::unlock_after_fork();
    tree::unlock();
    solo::unlock_after_fork(child, thread::current().map(|s| s.tally()));
    symbols::unlock_after_fork();
}
