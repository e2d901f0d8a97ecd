//! [`Probe`]: the global allocator wrapper.

use std::alloc::{GlobalAlloc, Layout, System};

use crate::{guard, tally};

/// A global allocator that counts every allocation and forwards it to an inner allocator.
///
/// ```
/// #[global_allocator]
/// static ALLOC: alloc_probe::Probe = alloc_probe::Probe::system();
/// # fn main() {}
/// ```
///
/// The counting path never panics, never takes a lock, and never allocates through the global
/// allocator. A call the inner allocator refuses returns null, as it would have without us, and
/// counts in [`Stats::failed`](crate::Stats::failed).
pub struct Probe<A: GlobalAlloc = System> {
    inner: A,
}

impl Probe<System> {
    /// A probe around [`std::alloc::System`].
    pub const fn system() -> Probe<System> {
        Probe { inner: System }
    }
}

impl<A: GlobalAlloc> Probe<A> {
    /// A probe around any allocator, e.g. `Probe::new(alloc_probe::Jemalloc)`.
    pub const fn new(inner: A) -> Probe<A> {
        Probe { inner }
    }

    /// The wrapped allocator.
    pub const fn inner(&self) -> &A {
        &self.inner
    }
}

// SAFETY: every method forwards to the inner allocator with the caller's arguments unchanged
// and returns its result unchanged; the counting around it has no effect on the memory.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Probe<A> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which we pass on.
        let p = unsafe { self.inner.alloc(layout) };
        if !guard::ignoring() {
            if p.is_null() {
                tally::on_failed();
            } else {
                tally::on_alloc(layout.size());
            }
        }
        p
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let p = unsafe { self.inner.alloc_zeroed(layout) };
        if !guard::ignoring() {
            if p.is_null() {
                tally::on_failed();
            } else {
                tally::on_alloc(layout.size());
            }
        }
        p
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if !guard::ignoring() {
            tally::on_dealloc(layout.size());
        }
        // SAFETY: the caller upholds `GlobalAlloc::dealloc`'s contract: `ptr` came from this
        // allocator, hence from `inner`, with this layout.
        unsafe { self.inner.dealloc(ptr, layout) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `dealloc`, plus the caller's guarantees on `new_size`.
        let p = unsafe { self.inner.realloc(ptr, layout, new_size) };
        if !guard::ignoring() {
            if p.is_null() {
                tally::on_failed();
            } else {
                tally::on_realloc(layout.size(), new_size);
            }
        }
        p
    }
}
