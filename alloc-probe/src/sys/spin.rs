//! The one lock the allocator path uses: a flag spun on, never held across an allocation or a
//! call that could wait for another lock's holder to allocate.

use std::sync::atomic::{AtomicBool, Ordering::*};

/// A spin lock around nothing: the data it guards lives beside it.
pub(crate) struct SpinLock(AtomicBool);

impl SpinLock {
    pub(crate) const fn new() -> SpinLock {
        SpinLock(AtomicBool::new(false))
    }

    pub(crate) fn lock(&self) {
        let mut spins = 0u32;
        while self
            .0
            .compare_exchange_weak(false, true, Acquire, Relaxed)
            .is_err()
        {
            backoff(&mut spins);
        }
    }

    pub(crate) fn unlock(&self) {
        self.0.store(false, Release);
    }
}

/// Waits a little in a spin loop: a pause at first, then, with more threads than cores, a
/// yield so that the thread being waited for can run.
pub(crate) fn backoff(spins: &mut u32) {
    *spins = spins.saturating_add(1);
    if *spins < 100 {
        std::hint::spin_loop();
    } else {
        // `sched_yield` or `SwitchToThread`: no allocation.
        std::thread::yield_now();
    }
}
