//! `counts` mode: every event counted exactly, nothing recorded.
//!
//! Its counting functions serve every mode. The quick path counts an event on the thread's
//! own tally without an update section ([`Tally::quick`]): a few instructions, and every case
//! but the plain count ends in a tail call, so that a free needs no stack frame. Where it
//! cannot (a thread without a slot, or with a scope open, or whose writer state is not known
//! yet), the general path counts ([`count`]). No event in this mode looks at the reentrancy
//! guard (see `sys::guard`).

use std::alloc::{GlobalAlloc, Layout};

use super::path::{inner_alloc, Path};
use crate::counters::{self, Alloc, Dealloc, Event, Quick, Realloc, Section, Tally};
use crate::thread::{self, Slot};

pub(crate) struct Counts;

impl Path for Counts {
    #[inline(always)]
    unsafe fn alloc<A: GlobalAlloc>(inner: &A, layout: Layout, zeroed: bool) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        let p = unsafe { inner_alloc(inner, layout, zeroed) };
        if p.is_null() {
            return rest(p, Alloc(layout.size()));
        }
        counted(thread::tally(), p, Alloc(layout.size()))
    }

    #[inline(always)]
    unsafe fn dealloc<A: GlobalAlloc>(inner: &A, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { free(inner, ptr, layout) }
    }

    #[inline(always)]
    unsafe fn realloc<A: GlobalAlloc>(
        inner: &A,
        ptr: *mut u8,
        layout: Layout,
        new_size: usize,
    ) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        let p = unsafe { inner.realloc(ptr, layout, new_size) };
        let e = Realloc {
            old: layout.size(),
            new: new_size,
        };
        if p.is_null() {
            return rest(p, e);
        }
        counted(thread::tally(), p, e)
    }
}

/// Counts event `e`, which returned block `p` (not null), on tally `t` (this thread's): the
/// quick way when it can, else out of line. Returns `p`.
#[inline(always)]
pub(crate) fn counted<E: Event>(t: &Tally, p: *mut u8, e: E) -> *mut u8 {
    counted_by(t, t.writer(), p, e)
}

/// [`counted`], with the tally's writer state already read.
#[inline(always)]
pub(crate) fn counted_by<E: Event>(t: &Tally, writer: u8, p: *mut u8, e: E) -> *mut u8 {
    match t.quick(writer, e) {
        Quick::Counted => p,
        Quick::PastLimit => over_limit_then(p),
        Quick::NotCounted => rest(p, e),
    }
}

/// Counts the free of `p` of `layout` (allocated with nothing recorded), then gives it back
/// to `inner`.
///
/// # Safety
/// `GlobalAlloc::dealloc`'s contract for `inner`, `p` and `layout`.
#[inline(always)]
pub(crate) unsafe fn free<A: GlobalAlloc>(inner: &A, p: *mut u8, layout: Layout) {
    let t = thread::tally();
    // SAFETY (each case): the caller's contract.
    unsafe {
        match t.quick(t.writer(), Dealloc(layout.size())) {
            Quick::Counted => inner.dealloc(p, layout),
            Quick::PastLimit => over_limit_then_free(inner, p, layout),
            Quick::NotCounted => free_rest(inner, p, layout),
        }
    }
}

/// After [`Quick::PastLimit`]: a new peak, or a grant to renew (see `counters::over_limit`).
#[cold]
#[inline(never)]
fn over_limit() {
    if let Some(s) = thread::current() {
        counters::over_limit(s.tally());
    }
}

/// [`over_limit`], for an allocation or reallocation that returns `p`.
#[cold]
#[inline(never)]
fn over_limit_then(p: *mut u8) -> *mut u8 {
    over_limit();
    p
}

/// [`over_limit`], for a free: then gives the block back to `inner`. Out of line, so that the
/// caller's quick path ends in a tail call.
///
/// # Safety
/// `GlobalAlloc::dealloc`'s contract for `inner`, `p` and `layout`.
#[cold]
#[inline(never)]
unsafe fn over_limit_then_free<A: GlobalAlloc>(inner: &A, p: *mut u8, layout: Layout) {
    over_limit();
    // SAFETY: the caller's contract.
    unsafe { inner.dealloc(p, layout) }
}

/// The other cases of [`Tally::quick`], out of line: a refused call (`p` null), or a thread
/// without a slot, with a scope open, or whose writer state is not known. Returns `p`.
#[cold]
#[inline(never)]
pub(crate) fn rest<E: Event>(p: *mut u8, e: E) -> *mut u8 {
    if p.is_null() {
        failed();
    } else {
        count(e);
    }
    p
}

/// [`rest`] for a free: counts it the general way, then gives the block back to `inner`.
///
/// # Safety
/// `GlobalAlloc::dealloc`'s contract for `inner`, `p` and `layout`.
#[cold]
#[inline(never)]
pub(crate) unsafe fn free_rest<A: GlobalAlloc>(inner: &A, p: *mut u8, layout: Layout) {
    count(Dealloc(layout.size()));
    // SAFETY: the caller's contract.
    unsafe { inner.dealloc(p, layout) }
}

/// Counts event `e` on the general path: the quick way on the slot's tally if a scope is open
/// (raising its high-water), else inside an update section (claiming a slot first if the
/// thread has none).
#[inline(always)]
pub(crate) fn count<E: Event>(e: E) {
    if count_scoped(e) {
        return;
    }
    counters::count(e, &Section::open(thread::slot().map(Slot::tally)));
}

/// [`count`]'s first try while a scope is open on this thread: a quick count on the slot's
/// tally, then the high-water raised (and the grant renewed if need be). False if no scope is
/// open, or the quick count counted nothing (the writer state is not known yet): then the
/// general path counts.
#[inline(always)]
fn count_scoped<E: Event>(e: E) -> bool {
    if !thread::scoped() {
        return false;
    }
    let Some(s) = thread::current() else {
        return false;
    };
    let t = s.tally();
    let q = t.quick(t.writer(), e);
    if q == Quick::NotCounted {
        return false;
    }
    t.raise_high_water(t.share.net());
    if q == Quick::PastLimit {
        counters::over_limit(t);
    }
    true
}

/// Counts a call the inner allocator refused.
#[cold]
pub(crate) fn failed() {
    counters::count_failed(thread::slot().map(Slot::tally));
}
