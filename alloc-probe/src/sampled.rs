//! The `sampled` mode's allocator path.
//!
//! Only a sample of blocks is tracked, so only those should cost anything beyond the exact
//! counters. Every block goes to the inner allocator exactly as asked, with no header; a
//! sampled block's header and weight go into the side table, whose bitmap lets a free tell in
//! one cached load that its block was not sampled (see `side`). An unsampled allocation costs
//! the counters and the sampler's countdown; an unsampled free, the counters and that load.
//!
//! alloc-probe's own allocations (under the reentrancy guard) are counted like any other,
//! as in `counts` mode, and never sampled: without a header there is nowhere to mark them.

use std::alloc::{GlobalAlloc, Layout};
use std::hint::cold_path;
use std::sync::atomic::Ordering::Relaxed;

use crate::blocks::{self, Header};
use crate::probe::inner_alloc;
use crate::tally::{self, Quick};
use crate::{guard, sections, side};

/// Allocates through `inner`; samples the block if the sampler says so. Only the countdown is
/// tested here: a sampled block goes out of line with one tail call, so that the allocator
/// entry keeps the small frame of `counts` mode's path, with which it shares its code.
#[inline(always)]
pub(crate) unsafe fn alloc<A: GlobalAlloc>(inner: &A, layout: Layout, zeroed: bool) -> *mut u8 {
    // SAFETY: the caller's layout, passed on unchanged.
    let p = unsafe { inner_alloc(inner, layout, zeroed) };
    let size = layout.size();
    if !p.is_null() {
        // The path first: a known one is a slot's, this thread's, whose countdown is ours.
        // A stand-in (a thread without a slot) or an unknown path goes to the general path,
        // which claims a slot if need be, and samples there.
        let h = tally::head();
        let path = h.path.load(Relaxed);
        if path == sections::LONE {
            // SAFETY: a known path: this thread's slot.
            if unsafe { blocks::sample_due(h, size) } {
                return alloc_sampled(p, size);
            }
            return tally::alloc_counted_on(h, sections::LONE, p, size);
        }
        if path == sections::LOCKED {
            // SAFETY: as above.
            if unsafe { blocks::sample_due(h, size) } {
                return alloc_sampled(p, size);
            }
            return tally::alloc_counted_on(h, sections::LOCKED, p, size);
        }
        cold_path();
    }
    alloc_rest(p, size)
}

/// The sampler chose the block at `p`: tracks it, unless it is alloc-probe's own.
#[cold]
#[inline(never)]
fn alloc_sampled(p: *mut u8, size: usize) -> *mut u8 {
    let slot = tally::slot();
    let solo = sections::begin(slot);
    if let Some(s) = slot {
        let w = blocks::sampled_weight(s, size);
        if !guard::ignoring() {
            record(slot, p, size, w, solo);
        }
    }
    tally::count_alloc(slot, size, solo);
    sections::end(slot, solo);
    p
}

/// [`alloc`]'s other cases, out of line: a refused call, or a thread without a slot yet
/// (which this claims, and samples on).
#[cold]
#[inline(never)]
fn alloc_rest(p: *mut u8, size: usize) -> *mut u8 {
    if p.is_null() {
        tally::on_failed();
        return p;
    }
    let slot = tally::slot();
    let solo = sections::begin(slot);
    if let Some(s) = slot {
        if let Some(w) = blocks::sample(s, size) {
            if !guard::ignoring() {
                record(slot, p, size, w, solo);
            }
        }
    }
    tally::count_alloc(slot, size, solo);
    sections::end(slot, solo);
    p
}

/// Tracks a sampled block of weight `w`.
#[cold]
#[inline(never)]
fn record(slot: Option<&tally::Slot>, p: *mut u8, size: usize, w: u64, solo: bool) {
    let h = blocks::track_new(crate::stack::frame_pointer(), slot, p, size, w, solo);
    mark(slot);
    if h.tracked() && !side::insert(p as usize, entry(h, w)) {
        // No room to remember it: the block stays counted, but its site forgets it.
        blocks::forget(h, w, size, solo);
    }
}

/// After a sampled block's birth or move (before it is counted): the thread's event count.
fn mark(slot: Option<&tally::Slot>) {
    if let Some(s) = slot {
        // SAFETY: the allocator path owns this thread's state and does not re-enter.
        unsafe { s.local() }.last_event = s.events();
    }
}

/// Before a sampled block's free or move (before it is counted): forgets the last block born
/// or moved if any event came since, as the unsampled events, which touch no tracking state,
/// did not. The free is then a temporary's exactly when it is its thread's next event.
fn catch_up(slot: Option<&tally::Slot>) {
    if let Some(s) = slot {
        // SAFETY: as in `mark`.
        let local = unsafe { s.local() };
        if s.events() != local.last_event.wrapping_add(1) {
            local.last_alloc = 0;
        }
    }
}

fn entry(h: Header, w: u64) -> [u64; 3] {
    let [a, b] = h.encode();
    [a, b, w]
}

/// Frees a block allocated by [`alloc`]. Every case but the unsampled block's quick count
/// ends in a tail call, so that this needs no stack frame of its own.
#[inline(always)]
pub(crate) unsafe fn dealloc<A: GlobalAlloc>(inner: &A, p: *mut u8, layout: Layout) {
    // SAFETY (each case): the caller's pointer and layout, as allocated by `inner`.
    unsafe {
        if side::may_hold(p as usize) {
            return dealloc_maybe_sampled(inner, p, layout);
        }
        match tally::quick(|s| tally::quick_dealloc(s, layout.size())) {
            Quick::Counted => inner.dealloc(p, layout),
            Quick::PastLimit => tally::over_limit_then_free(inner, p, layout),
            Quick::NotCounted => tally::dealloc_rest(inner, p, layout),
        }
    }
}

/// [`dealloc`] of a block the side table may hold: its record comes out before the address
/// goes back to the allocator and to another thread.
///
/// # Safety
/// [`dealloc`]'s contract.
#[cold]
#[inline(never)]
unsafe fn dealloc_maybe_sampled<A: GlobalAlloc>(inner: &A, p: *mut u8, layout: Layout) {
    if !free_sampled(p, layout.size()) {
        tally::on_dealloc(layout.size());
    }
    // SAFETY: the caller's contract.
    unsafe { inner.dealloc(p, layout) }
}

/// Counts the free of `p` if it was sampled; false if it was not.
#[cold]
#[inline(never)]
fn free_sampled(p: *mut u8, size: usize) -> bool {
    let Some([a, b, w]) = side::remove(p as usize) else {
        return false;
    };
    let slot = tally::slot();
    let solo = sections::begin(slot);
    catch_up(slot);
    blocks::untrack(
        crate::stack::frame_pointer(),
        slot,
        p,
        size,
        Header::decode([a, b]),
        w,
        solo,
    );
    tally::count_dealloc(slot, size, solo);
    sections::end(slot, solo);
    true
}

/// Reallocates a block allocated by [`alloc`]. A sampled block stays sampled with its weight;
/// an unsampled one stays unsampled (the sampler decides once per block, at its birth). As in
/// [`dealloc`], a block the side table may hold goes out of line, so that an unsampled
/// block's realloc costs the counts path and one bitmap load.
#[inline(always)]
pub(crate) unsafe fn realloc<A: GlobalAlloc>(
    inner: &A,
    p: *mut u8,
    layout: Layout,
    new_size: usize,
) -> *mut u8 {
    if side::may_hold(p as usize) {
        // SAFETY: the caller's contract, passed on.
        return unsafe { realloc_maybe_sampled(inner, p, layout, new_size) };
    }
    let old = layout.size();
    // SAFETY: the caller's arguments, unchanged.
    let moved = unsafe { inner.realloc(p, layout, new_size) };
    if moved.is_null() {
        return tally::realloc_rest(moved, old, new_size);
    }
    tally::realloc_counted(tally::head(), moved, old, new_size)
}

/// [`realloc`] of a block the side table may hold: its record moves with it.
///
/// # Safety
/// [`realloc`]'s contract.
#[cold]
#[inline(never)]
unsafe fn realloc_maybe_sampled<A: GlobalAlloc>(
    inner: &A,
    p: *mut u8,
    layout: Layout,
    new_size: usize,
) -> *mut u8 {
    let rec = side::remove(p as usize);
    // SAFETY: the caller's arguments, unchanged.
    let moved = unsafe { inner.realloc(p, layout, new_size) };
    if moved.is_null() {
        if let Some(v) = rec {
            blocks::restore(p, v, layout.size(), false);
        }
        tally::on_failed();
        return moved;
    }
    match rec {
        Some(v) => moved_sampled(p, moved, layout.size(), new_size, v),
        None => tally::realloc_counted(tally::head(), moved, layout.size(), new_size),
    }
}

/// Counts the realloc of a sampled block and moves its record. Returns `moved`.
#[cold]
#[inline(never)]
fn moved_sampled(p: *mut u8, moved: *mut u8, old: usize, new: usize, v: [u64; 3]) -> *mut u8 {
    let slot = tally::slot();
    let solo = sections::begin(slot);
    let mut h = Header::decode([v[0], v[1]]);
    let w = v[2];
    catch_up(slot);
    blocks::retrack(slot, p, moved, old, new, &mut h, w, solo);
    mark(slot);
    if !side::insert(moved as usize, entry(h, w)) {
        blocks::forget(h, w, new, solo);
    }
    tally::count_realloc(slot, old, new, solo);
    sections::end(slot, solo);
    moved
}
