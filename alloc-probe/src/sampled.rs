//! The `sampled` mode's allocator path.
//!
//! Only a sample of blocks is tracked, so only those should cost anything beyond the exact
//! counters. A sampled block's header and weight go into the side table (see `side`), and the
//! block itself is placed so that a free can tell from its address alone that its block was
//! not sampled (see [`TAG`]): an unsampled allocation costs the counters and the sampler's
//! countdown; an unsampled free, the counters and a test of its address and alignment. Every
//! other block goes to the inner allocator exactly as asked.
//!
//! alloc-probe's own allocations (under the reentrancy guard) are counted like any other,
//! as in `counts` mode, and never sampled.

use std::alloc::{GlobalAlloc, Layout};
use std::hint::cold_path;
use std::sync::atomic::Ordering::Relaxed;

use crate::blocks::{self, Header};
use crate::probe::inner_alloc;
use crate::tally::{self, Head, Quick};
use crate::{guard, sections, side};

/// Where a sampled block with an alignment of at most 8 sits: `TAG` bytes into an inner block
/// `TAG` bytes larger and aligned to 16. Its address is then 8 past a multiple of 16, as the
/// address of no block from an allocator that aligns to 16 is (glibc's malloc always does;
/// jemalloc and mimalloc for sizes above 8), so a free whose block is aligned to at most 8
/// and whose address is a multiple of 16 knows without a look-up that the block was not
/// sampled. Any other free asks the side table's bitmap, then the table. Over-aligned blocks
/// cannot be marked, and are left where the inner allocator puts them.
const TAG: usize = 8;

/// Whether the block at `p` with `layout` may have been sampled: false means it was not.
#[inline(always)]
fn may_be_sampled(p: *mut u8, layout: Layout) -> bool {
    layout.align() > TAG || p as usize & TAG != 0
}

/// The inner block of a marked sampled block of `layout`; `None` when the block is not marked
/// (over-aligned, or too large to pad).
fn padded(layout: Layout) -> Option<Layout> {
    if layout.align() > TAG {
        return None;
    }
    Layout::from_size_align(layout.size().checked_add(TAG)?, 2 * TAG).ok()
}

/// Allocates through `inner`, where the sampler says: a sampled block out of line (it is
/// placed apart, see [`TAG`], so the sampler decides before the inner call). The path first:
/// a known one is a slot's, this thread's, whose countdown is ours. A stand-in (a thread
/// without a slot, or with a window open: see `tally::open_window`) or an unknown path goes
/// to the general path, which claims a slot if need be, and samples there.
#[inline(always)]
pub(crate) unsafe fn alloc<A: GlobalAlloc>(inner: &A, layout: Layout, zeroed: bool) -> *mut u8 {
    let h = tally::head();
    let path = h.path.load(Relaxed);
    // SAFETY (each case): the caller's contract, passed on; a known path is this thread's
    // slot's.
    unsafe {
        if path == sections::LONE {
            return alloc_on(inner, h, sections::LONE, layout, zeroed);
        }
        if path == sections::LOCKED {
            return alloc_on(inner, h, sections::LOCKED, layout, zeroed);
        }
        cold_path();
        alloc_slow(inner, layout, zeroed, false)
    }
}

/// [`alloc`] on this thread's slot's head `h`, whose path was `path`.
///
/// # Safety
/// [`alloc`]'s contract; `h` is this thread's slot's.
#[inline(always)]
unsafe fn alloc_on<A: GlobalAlloc>(
    inner: &A,
    h: &Head,
    path: u8,
    layout: Layout,
    zeroed: bool,
) -> *mut u8 {
    let size = layout.size();
    // SAFETY: the caller's contract.
    if unsafe { blocks::sample_due(h, size) } {
        // SAFETY: the caller's contract, passed on.
        return unsafe { alloc_slow(inner, layout, zeroed, true) };
    }
    // SAFETY: the caller's layout, passed on unchanged.
    let p = unsafe { inner_alloc(inner, layout, zeroed) };
    if p.is_null() {
        return tally::alloc_rest(p, size);
    }
    tally::alloc_counted_on(h, path, p, size)
}

/// [`alloc`]'s other cases, out of line: a block the sampler chose (`due`), or a thread
/// without a slot yet (which this claims, and samples on) or whose path is not known.
///
/// # Safety
/// [`alloc`]'s contract.
#[cold]
#[inline(never)]
unsafe fn alloc_slow<A: GlobalAlloc>(
    inner: &A,
    layout: Layout,
    zeroed: bool,
    due: bool,
) -> *mut u8 {
    let size = layout.size();
    let slot = tally::slot();
    let w = slot.and_then(|s| {
        if due {
            Some(blocks::sampled_weight(s, size))
        } else {
            blocks::sample(s, size)
        }
    });
    // SAFETY (each case): the caller's contract, passed on.
    unsafe {
        match w {
            Some(w) if !guard::ignoring() => alloc_tracked(inner, layout, zeroed, slot, w),
            _ => tally::alloc_rest(inner_alloc(inner, layout, zeroed), size),
        }
    }
}

/// Allocates a sampled block of weight `w`, marked if it can be, and tracks it.
///
/// # Safety
/// [`alloc`]'s contract.
unsafe fn alloc_tracked<A: GlobalAlloc>(
    inner: &A,
    layout: Layout,
    zeroed: bool,
    slot: Option<&tally::Slot>,
    w: u64,
) -> *mut u8 {
    let size = layout.size();
    // A marked block must be found at its free, so its record's room comes first. Without
    // room, or if the larger block is refused, the block is not sampled after all.
    let pad = padded(layout).filter(|_| side::reserve());
    let Some(pad) = pad else {
        // SAFETY: the caller's layout, unchanged.
        let p = unsafe { inner_alloc(inner, layout, zeroed) };
        if p.is_null() || layout.align() <= TAG {
            return tally::alloc_rest(p, size);
        }
        return counted_birth(slot, p, size, w, false);
    };
    // SAFETY: a layout of non-zero size.
    let q = unsafe { inner_alloc(inner, pad, zeroed) };
    if q.is_null() {
        side::unreserve();
        // SAFETY: the caller's layout, unchanged.
        return tally::alloc_rest(unsafe { inner_alloc(inner, layout, zeroed) }, size);
    }
    // SAFETY: `q` has `TAG` bytes more than `size`; the block after them is aligned to 8.
    counted_birth(slot, unsafe { q.add(TAG) }, size, w, true)
}

/// Tracks and counts the birth of the sampled block `p`; `reserved`: it is marked, and its
/// record's room taken. Returns `p`.
fn counted_birth(
    slot: Option<&tally::Slot>,
    p: *mut u8,
    size: usize,
    w: u64,
    reserved: bool,
) -> *mut u8 {
    let solo = sections::begin(slot);
    record(slot, p, size, w, solo, reserved);
    tally::count_alloc(slot, size, solo);
    sections::end(slot, solo);
    p
}

/// Tracks a sampled block of weight `w`; `reserved`: it is marked, and its record's room
/// taken (its record goes in even if its site could not be told).
#[cold]
#[inline(never)]
fn record(slot: Option<&tally::Slot>, p: *mut u8, size: usize, w: u64, solo: bool, reserved: bool) {
    let h = blocks::track_new(crate::stack::frame_pointer(), slot, p, size, w, solo);
    mark(slot, p);
    if reserved {
        side::insert_reserved(p as usize, entry(h, w));
    } else if h.tracked() && !side::insert(p as usize, entry(h, w)) {
        // No room to remember it: the block stays counted, but its site forgets it.
        blocks::forget(h, w, size, solo);
    }
}

/// After the birth or move of the sampled block `p` (before it is counted): the thread's
/// event count, if tracking made `p` the last block (one without a site it leaves alone; the
/// count then stays behind, and [`catch_up`] forgets the last block).
fn mark(slot: Option<&tally::Slot>, p: *mut u8) {
    if let Some(s) = slot {
        // SAFETY: the allocator path owns this thread's state and does not re-enter.
        let local = unsafe { s.local() };
        if local.last_alloc == p as usize {
            local.last_event = s.events();
        }
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
        if may_be_sampled(p, layout) {
            return dealloc_maybe_sampled(inner, p, layout);
        }
        match tally::quick(|s| tally::quick_dealloc(s, layout.size())) {
            Quick::Counted => inner.dealloc(p, layout),
            Quick::PastLimit => tally::over_limit_then_free(inner, p, layout),
            Quick::NotCounted => tally::dealloc_rest(inner, p, layout),
        }
    }
}

/// [`dealloc`] of a block that may have been sampled: its record comes out before the address
/// goes back to the allocator and to another thread.
///
/// # Safety
/// [`dealloc`]'s contract.
#[cold]
#[inline(never)]
unsafe fn dealloc_maybe_sampled<A: GlobalAlloc>(inner: &A, p: *mut u8, layout: Layout) {
    if !(side::may_hold(p as usize) && free_sampled(p, layout.size())) {
        tally::on_dealloc(layout.size());
        // SAFETY: the caller's contract.
        return unsafe { inner.dealloc(p, layout) };
    }
    // SAFETY: a sampled block is marked exactly when `padded` says so (see `alloc_tracked`
    // and `realloc_maybe_sampled`): its inner block starts `TAG` bytes before it.
    unsafe {
        match padded(layout) {
            Some(pad) => inner.dealloc(p.sub(TAG), pad),
            None => inner.dealloc(p, layout),
        }
    }
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

/// Reallocates a block allocated by [`alloc`]. A sampled block stays sampled with its weight
/// (and marked); an unsampled one stays unsampled (the sampler decides once per block, at its
/// birth). As in [`dealloc`], a block that may have been sampled goes out of line.
#[inline(always)]
pub(crate) unsafe fn realloc<A: GlobalAlloc>(
    inner: &A,
    p: *mut u8,
    layout: Layout,
    new_size: usize,
) -> *mut u8 {
    if may_be_sampled(p, layout) {
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

/// [`realloc`] of a block that may have been sampled: its record moves with it.
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
    let old = layout.size();
    let held = side::may_hold(p as usize);
    let pad = padded(layout);
    // A marked block's record must move with it: its room first. A marked block that finds
    // none cannot move, and its realloc fails, as under the memory pressure that caused it.
    if held && pad.is_some() && !side::reserve() {
        tally::on_failed();
        return std::ptr::null_mut();
    }
    let rec = if held { side::remove(p as usize) } else { None };
    let (Some(v), Some(pad)) = (rec, pad) else {
        if held && pad.is_some() {
            side::unreserve();
        }
        // SAFETY: an unmarked block: the caller's arguments, unchanged.
        let moved = unsafe { inner.realloc(p, layout, new_size) };
        return match (moved.is_null(), rec) {
            (true, Some(v)) => {
                blocks::restore(p, v, old, false);
                tally::realloc_rest(moved, old, new_size)
            }
            (true, None) => tally::realloc_rest(moved, old, new_size),
            (false, Some(v)) => moved_sampled(p, moved, old, new_size, v, false),
            (false, None) => tally::realloc_counted(tally::head(), moved, old, new_size),
        };
    };
    // A marked block: its inner block moves, and it stays `TAG` bytes in.
    let moved = match new_size
        .checked_add(TAG)
        .and_then(|n| Layout::from_size_align(n, pad.align()).ok())
    {
        // SAFETY: the inner block as allocated (see `dealloc_maybe_sampled`), and a new size
        // that is valid with its alignment.
        Some(n) => unsafe { inner.realloc(p.sub(TAG), pad, n.size()) },
        None => std::ptr::null_mut(),
    };
    if moved.is_null() {
        side::insert_reserved(p as usize, v);
        tally::on_failed();
        return moved;
    }
    // SAFETY: the inner block has `TAG` bytes more than `new_size`, aligned to 16 as before.
    moved_sampled(p, unsafe { moved.add(TAG) }, old, new_size, v, true)
}

/// Counts the realloc of a sampled block and moves its record (`reserved`: to room taken
/// already, see [`record`]). Returns `moved`.
#[cold]
#[inline(never)]
fn moved_sampled(
    p: *mut u8,
    moved: *mut u8,
    old: usize,
    new: usize,
    v: [u64; 3],
    reserved: bool,
) -> *mut u8 {
    let slot = tally::slot();
    let solo = sections::begin(slot);
    let mut h = Header::decode([v[0], v[1]]);
    let w = v[2];
    catch_up(slot);
    blocks::retrack(slot, p, moved, old, new, &mut h, w, solo);
    mark(slot, moved);
    if reserved {
        side::insert_reserved(moved as usize, entry(h, w));
    } else if !side::insert(moved as usize, entry(h, w)) {
        blocks::forget(h, w, new, solo);
    }
    tally::count_realloc(slot, old, new, solo);
    sections::end(slot, solo);
    moved
}
