//! One counter type for everything alloc-probe counts: an atomic its caller updates with plain
//! loads and stores when no other thread may update it at the same time, and with locked
//! instructions otherwise.
//!
//! A locked add costs as much as a third of a small `malloc` + `free`, so the allocator path
//! avoids it wherever one writer is certain: a thread's own counters, and, while only one
//! thread allocates, the counters every thread shares (see `solo`).

use std::sync::atomic::{
    AtomicU64,
    Ordering::{Relaxed, Release},
};

/// Whether other threads may update a counter at the same time as the caller.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Access {
    /// No: the caller owns the counter, or is the solo writer inside a section (see `solo`).
    Solo,
    /// Yes: updates take locked instructions.
    Shared,
}

/// A 64-bit counter. Readers may be anywhere; writers say how they write ([`Access`]).
#[derive(Default)]
#[repr(transparent)]
pub(crate) struct Counter(AtomicU64);

impl Counter {
    pub(crate) const fn new(v: u64) -> Counter {
        Counter(AtomicU64::new(v))
    }

    #[inline(always)]
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }

    /// Sets the counter; only for a caller that may write it plainly.
    #[inline(always)]
    pub(crate) fn set(&self, v: u64) {
        self.0.store(v, Relaxed);
    }

    /// Adds `n` (wrapping), and returns the new value. Released, so that a reader who sees
    /// the new value and then fences (see `totals`) sees every count made before it, on any
    /// thread: on x86-64 the same instructions as a relaxed store, on AArch64 a store-release.
    #[inline(always)]
    pub(crate) fn add(&self, n: u64, a: Access) -> u64 {
        match a {
            Access::Solo => {
                let v = self.get().wrapping_add(n);
                self.0.store(v, Release);
                v
            }
            Access::Shared => self.0.fetch_add(n, Release).wrapping_add(n),
        }
    }

    /// Subtracts `n` (wrapping), and returns the new value.
    #[inline(always)]
    pub(crate) fn sub(&self, n: u64, a: Access) -> u64 {
        self.add(n.wrapping_neg(), a)
    }

    /// Raises the counter to `v`, if that is higher.
    #[inline(always)]
    pub(crate) fn raise(&self, v: u64, a: Access) {
        if v > self.get() {
            match a {
                Access::Solo => self.set(v),
                Access::Shared => {
                    self.0.fetch_max(v, Relaxed);
                }
            }
        }
    }

    /// Lowers the counter to `v`, if that is lower.
    #[inline(always)]
    pub(crate) fn lower(&self, v: u64, a: Access) {
        if v < self.get() {
            match a {
                Access::Solo => self.set(v),
                Access::Shared => {
                    self.0.fetch_min(v, Relaxed);
                }
            }
        }
    }
}
