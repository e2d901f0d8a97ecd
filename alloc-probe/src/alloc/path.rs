//! What each mode's allocator path implements, and how every mode asks the inner allocator.

use std::alloc::{GlobalAlloc, Layout};

/// One mode's allocator path. Each method has the contract of the `GlobalAlloc` method of its
/// name, for `inner`; a block given to `dealloc` or `realloc` came from the same mode's
/// `alloc` or `realloc`, as the mode is fixed by the probe's first call.
pub(crate) trait Path {
    /// `alloc`, or `alloc_zeroed` when `zeroed`.
    ///
    /// # Safety
    /// `GlobalAlloc::alloc`'s contract.
    unsafe fn alloc<A: GlobalAlloc>(inner: &A, layout: Layout, zeroed: bool) -> *mut u8;

    /// # Safety
    /// `GlobalAlloc::dealloc`'s contract.
    unsafe fn dealloc<A: GlobalAlloc>(inner: &A, ptr: *mut u8, layout: Layout);

    /// # Safety
    /// `GlobalAlloc::realloc`'s contract.
    unsafe fn realloc<A: GlobalAlloc>(
        inner: &A,
        ptr: *mut u8,
        layout: Layout,
        new_size: usize,
    ) -> *mut u8;
}

/// `inner.alloc` or `inner.alloc_zeroed`: every path asks the inner allocator this way.
///
/// # Safety
/// `GlobalAlloc::alloc`'s contract: `layout` has a non-zero size.
#[inline(always)]
pub(super) unsafe fn inner_alloc<A: GlobalAlloc>(
    inner: &A,
    layout: Layout,
    zeroed: bool,
) -> *mut u8 {
    // SAFETY: the caller's contract, passed on.
    unsafe {
        if zeroed {
            inner.alloc_zeroed(layout)
        } else {
            inner.alloc(layout)
        }
    }
}
