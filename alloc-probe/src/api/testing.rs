//! Hooks for alloc-probe's own tests (feature `testing`): they reach into moments a few
//! instructions wide, or figures only a long-running process reaches, and no program needs
//! them.

/// The next time a thread's share passes its limit outside an update section (for the solo
/// writer, the peak), it pauses for `ns` nanoseconds before it raises the peak or renews its
/// grant.
pub fn pause_over_limit(ns: u64) {
    crate::counters::solo::testing::pause_next(ns);
}

/// Whether a pause asked by [`pause_over_limit`] has begun.
pub fn over_limit_paused() -> bool {
    crate::counters::solo::testing::paused()
}

/// The live bytes behind the exact peak: every thread's share summed. At a quiet moment it
/// equals `stats().live_bytes`, which is summed from the per-thread event counters instead.
pub fn live_counter() -> u64 {
    crate::counters::peak::live()
}

/// Moves this thread's invocation numbers on by `invocations` and the thread serials by
/// `threads`, as if that many tracked calls and threads had run: the figures of a process
/// that has run for weeks.
pub fn skip(invocations: u64, threads: u64) {
    if let Some(slot) = crate::thread::slot() {
        // SAFETY: user code, not the allocator; nothing here allocates.
        unsafe { slot.tracker() }.calls.skip(invocations);
    }
    crate::tracking::tracker::Tracker::skip_serials(threads);
}
