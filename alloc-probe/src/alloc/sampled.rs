//! `sampled` mode: counts every event, and records a sample of the blocks.
//!
//! Only the sampled blocks should cost anything beyond the exact counts. A sampled block's
//! record and weight go into the side table, and the block itself is placed so that a free
//! can tell from its address alone that its block was not sampled (see [`TAG`]): an unsampled
//! allocation costs the quick count and the sampler's countdown; an unsampled free, the quick
//! count and a test of its address and alignment. Every other block goes to the inner
//! allocator exactly as asked.
//!
//! alloc-probe's own allocations (under the reentrancy guard) are counted like any other, as
//! in `counts` mode, and never sampled.

use std::alloc::{GlobalAlloc, Layout};
use std::hint::cold_path;

use super::counts::{self, counted, counted_by, rest};
use super::path::{inner_alloc, Path};
use super::record;
use crate::counters::{self, Access, Alloc, Dealloc, Realloc, Section, Tally, SHARED, SOLO};
use crate::sys::{guard, stack};
use crate::thread::{self, Slot};
use crate::tracking::header::{Header, Record};
use crate::tracking::{sampler, side};

/// Where a sampled block with an alignment of at most 8 sits: `TAG` bytes into an inner block
/// `TAG` bytes larger and aligned to 16: it is *tagged*. Its address is then 8 past a multiple
/// of 16, as the address of no block from an allocator that aligns to 16 is (glibc's malloc
/// always does; jemalloc and mimalloc for sizes above 8), so a free whose block is aligned to
/// at most 8 and whose address is a multiple of 16 knows without a look-up that the block was
/// not sampled. Any other free asks the side table's bitmap, then the table. Over-aligned
/// blocks cannot be tagged, and are left where the inner allocator puts them.
const TAG: usize = 8;

pub(crate) struct Sampled;

impl Path for Sampled {
    /// Allocates where the sampler says: a sampled block out of line (it is placed apart, see
    /// [`TAG`], so the sampler decides before the inner call). The writer state first: a known
    /// one is a slot's, this thread's, whose countdown is ours. A sentinel (a thread without a
    /// slot, or with a scope open) or an unknown state goes to the general path, which claims
    /// a slot if need be, and samples there.
    #[inline(always)]
    unsafe fn alloc<A: GlobalAlloc>(inner: &A, layout: Layout, zeroed: bool) -> *mut u8 {
        let t = thread::tally();
        let writer = t.writer();
        // SAFETY (each case): the caller's contract, passed on; a known writer state is this
        // thread's slot's.
        unsafe {
            if writer == SOLO {
                return alloc_on(inner, t, SOLO, layout, zeroed);
            }
            if writer == SHARED {
                return alloc_on(inner, t, SHARED, layout, zeroed);
            }
            cold_path();
            alloc_slow(inner, layout, zeroed, false)
        }
    }

    /// Frees a block: every case but the unsampled block's quick count ends in a tail call, so
    /// that this needs no stack frame of its own.
    #[inline(always)]
    unsafe fn dealloc<A: GlobalAlloc>(inner: &A, p: *mut u8, layout: Layout) {
        // SAFETY (each case): the caller's contract, passed on.
        unsafe {
            if may_be_sampled(p, layout) {
                return dealloc_maybe_sampled(inner, p, layout);
            }
            counts::free(inner, p, layout)
        }
    }

    /// Reallocates a block: a sampled block stays sampled with its weight (and tagged); an
    /// unsampled one stays unsampled (the sampler decides once per block, at its birth). As
    /// in `dealloc`, a block that may have been sampled goes out of line.
    #[inline(always)]
    unsafe fn realloc<A: GlobalAlloc>(
        inner: &A,
        p: *mut u8,
        layout: Layout,
        new_size: usize,
    ) -> *mut u8 {
        if may_be_sampled(p, layout) {
            // SAFETY: the caller's contract, passed on.
            return unsafe { realloc_maybe_sampled(inner, p, layout, new_size) };
        }
        // SAFETY: the caller's arguments, unchanged.
        let moved = unsafe { inner.realloc(p, layout, new_size) };
        let e = Realloc {
            old: layout.size(),
            new: new_size,
        };
        if moved.is_null() {
            return rest(moved, e);
        }
        counted(thread::tally(), moved, e)
    }
}

/// Whether the block at `p` with `layout` may have been sampled: false means it was not.
#[inline(always)]
fn may_be_sampled(p: *mut u8, layout: Layout) -> bool {
    layout.align() > TAG || p as usize & TAG != 0
}

/// The inner block of a tagged sampled block of `layout`; `None` when the block is not tagged
/// (over-aligned, or too large to pad).
fn padded(layout: Layout) -> Option<Layout> {
    if layout.align() > TAG {
        return None;
    }
    Layout::from_size_align(layout.size().checked_add(TAG)?, 2 * TAG).ok()
}

/// [`Sampled::alloc`] on this thread's slot's tally `t`, whose writer state was `writer`.
///
/// # Safety
/// [`Sampled::alloc`]'s contract; `t` is this thread's slot's.
#[inline(always)]
unsafe fn alloc_on<A: GlobalAlloc>(
    inner: &A,
    t: &Tally,
    writer: u8,
    layout: Layout,
    zeroed: bool,
) -> *mut u8 {
    let size = layout.size();
    // SAFETY: the caller's contract: `t` is this thread's, its writer state known.
    if sampler::due(unsafe { t.countdown() }, size) {
        // SAFETY: the caller's contract, passed on.
        return unsafe { alloc_slow(inner, layout, zeroed, true) };
    }
    // SAFETY: the caller's layout, passed on unchanged.
    let p = unsafe { inner_alloc(inner, layout, zeroed) };
    if p.is_null() {
        return rest(p, Alloc(size));
    }
    counted_by(t, writer, p, Alloc(size))
}

/// [`Sampled::alloc`]'s other cases, out of line: a block the sampler chose (`due`), or a
/// thread without a slot yet (which this claims, and samples on) or whose writer state is not
/// known.
///
/// # Safety
/// [`Sampled::alloc`]'s contract.
#[cold]
#[inline(never)]
unsafe fn alloc_slow<A: GlobalAlloc>(
    inner: &A,
    layout: Layout,
    zeroed: bool,
    due: bool,
) -> *mut u8 {
    let size = layout.size();
    let slot = thread::slot();
    let w = slot.and_then(|s| {
        if due {
            Some(chosen(s, size))
        } else {
            sample(s, size)
        }
    });
    // SAFETY (each case): the caller's contract, passed on.
    unsafe {
        match w {
            Some(w) if !guard::ignoring() => alloc_recorded(inner, layout, zeroed, slot, w),
            _ => rest(inner_alloc(inner, layout, zeroed), Alloc(size)),
        }
    }
}

/// Whether a new block of `size` bytes on slot `s` (this thread's) is sampled, and its weight.
fn sample(s: &Slot, size: usize) -> Option<u64> {
    // SAFETY: the slot is this thread's.
    sampler::due(unsafe { s.tally().countdown() }, size).then(|| chosen(s, size))
}

/// The weight of a block of `size` bytes the sampler chose on slot `s` (this thread's); starts
/// the gap to the next sample.
#[cold]
fn chosen(s: &Slot, size: usize) -> u64 {
    // SAFETY: the allocator path owns this thread's state and does not re-enter.
    let gap = unsafe { s.tracker() }.sampler.gap();
    // SAFETY: as above.
    unsafe { *s.tally().countdown() = gap };
    sampler::weight(size)
}

/// Allocates a sampled block of weight `w`, tagged if it can be, and records it.
///
/// # Safety
/// [`Sampled::alloc`]'s contract.
unsafe fn alloc_recorded<A: GlobalAlloc>(
    inner: &A,
    layout: Layout,
    zeroed: bool,
    slot: Option<&Slot>,
    w: u64,
) -> *mut u8 {
    let size = layout.size();
    // A tagged block must be found at its free, so its record's room comes first. Without
    // room the block is not sampled after all. A refused larger block is the program's
    // refusal: the inner allocator sees one request per request the program made.
    let pad = padded(layout).filter(|_| side::reserve());
    let Some(pad) = pad else {
        // SAFETY: the caller's layout, unchanged.
        let p = unsafe { inner_alloc(inner, layout, zeroed) };
        if p.is_null() || layout.align() <= TAG {
            return rest(p, Alloc(size));
        }
        return birth(slot, p, size, w, false);
    };
    // SAFETY: a layout of non-zero size.
    let q = unsafe { inner_alloc(inner, pad, zeroed) };
    if q.is_null() {
        side::unreserve();
        return rest(q, Alloc(size));
    }
    // SAFETY: `q` has `TAG` bytes more than `size`; the block after them is aligned to 8.
    birth(slot, unsafe { q.add(TAG) }, size, w, true)
}

/// Records and counts the birth of the sampled block `p`; `reserved`: it is tagged, and its
/// record's room taken. Returns `p`.
fn birth(slot: Option<&Slot>, p: *mut u8, size: usize, w: u64, reserved: bool) -> *mut u8 {
    let section = Section::open(slot.map(Slot::tally));
    keep(slot, p, size, w, section.access(), reserved);
    counters::count(Alloc(size), &section);
    p
}

/// Records a sampled block of weight `w`; `reserved`: it is tagged, and its record's room
/// taken (its record goes in even if its site could not be told).
#[cold]
#[inline(never)]
fn keep(slot: Option<&Slot>, p: *mut u8, size: usize, w: u64, a: Access, reserved: bool) {
    let h = record::born(stack::frame_pointer(), slot, p, size, w, a);
    stamp(slot, p);
    if reserved {
        side::insert_reserved(p as usize, h.entry(w));
    } else if h.recorded() && !side::insert(p as usize, h.entry(w)) {
        // No room to remember it: the block stays counted, but its site forgets it.
        record::forget(h, w, size, a);
    }
}

/// After the birth or move of the sampled block `p` (before it is counted): stamps the
/// thread's event count, if recording made `p` the last block (one without a site it leaves
/// alone; the count then stays behind, and [`catch_up`] forgets the last block).
fn stamp(slot: Option<&Slot>, p: *mut u8) {
    if let Some(s) = slot {
        // SAFETY: the allocator path owns this thread's state and does not re-enter.
        let tracker = unsafe { s.tracker() };
        if tracker.last_alloc == p as usize {
            tracker.last_event = s.tally().events();
        }
    }
}

/// Before a sampled block's free or move (before it is counted): forgets the last block born
/// or moved if any event came since, as the unsampled events, which touch no tracking state,
/// did not. The free is then a temporary's exactly when it is its thread's next event.
fn catch_up(slot: Option<&Slot>) {
    if let Some(s) = slot {
        // SAFETY: as in `stamp`.
        let tracker = unsafe { s.tracker() };
        if s.tally().events() != tracker.last_event.wrapping_add(1) {
            tracker.last_alloc = 0;
        }
    }
}

/// [`Sampled::dealloc`] of a block that may have been sampled: its record comes out before
/// the address goes back to the allocator and to another thread.
///
/// # Safety
/// [`Sampled::dealloc`]'s contract.
#[cold]
#[inline(never)]
unsafe fn dealloc_maybe_sampled<A: GlobalAlloc>(inner: &A, p: *mut u8, layout: Layout) {
    if !(side::may_hold(p as usize) && free_sampled(p, layout.size())) {
        counts::count(Dealloc(layout.size()));
        // SAFETY: the caller's contract.
        return unsafe { inner.dealloc(p, layout) };
    }
    // SAFETY: a sampled block is tagged exactly when `padded` says so (see `alloc_recorded`
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
    let Some(entry) = side::remove(p as usize) else {
        return false;
    };
    let (h, w) = Header::from_entry(entry);
    let slot = thread::slot();
    let section = Section::open(slot.map(Slot::tally));
    catch_up(slot);
    record::freed(
        stack::frame_pointer(),
        slot,
        p,
        size,
        h,
        w,
        section.access(),
    );
    counters::count(Dealloc(size), &section);
    true
}

/// [`Sampled::realloc`] of a block that may have been sampled: its record moves with it.
///
/// # Safety
/// [`Sampled::realloc`]'s contract.
#[cold]
#[inline(never)]
unsafe fn realloc_maybe_sampled<A: GlobalAlloc>(
    inner: &A,
    p: *mut u8,
    layout: Layout,
    new_size: usize,
) -> *mut u8 {
    let old = layout.size();
    let e = Realloc { old, new: new_size };
    let held = side::may_hold(p as usize);
    let pad = padded(layout);
    // A tagged block's record must move with it: its room first. A tagged block that finds
    // none cannot move, and its realloc fails, as under the memory pressure that caused it.
    if held && pad.is_some() && !side::reserve() {
        counts::failed();
        return std::ptr::null_mut();
    }
    let rec = if held { side::remove(p as usize) } else { None };
    let (Some(v), Some(pad)) = (rec, pad) else {
        if held && pad.is_some() {
            side::unreserve();
        }
        // SAFETY: an untagged block: the caller's arguments, unchanged.
        let moved = unsafe { inner.realloc(p, layout, new_size) };
        return match (moved.is_null(), rec) {
            (true, Some(v)) => {
                record::restore(p, v, old, false);
                rest(moved, e)
            }
            (true, None) => rest(moved, e),
            (false, Some(v)) => moved_sampled(p, moved, e, v, false),
            (false, None) => counted(thread::tally(), moved, e),
        };
    };
    // A tagged block: its inner block moves, and it stays `TAG` bytes in.
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
        counts::failed();
        return moved;
    }
    // SAFETY: the inner block has `TAG` bytes more than `new_size`, aligned to 16 as before.
    moved_sampled(p, unsafe { moved.add(TAG) }, e, v, true)
}

/// Counts the realloc `e` of a sampled block, from `p` to `moved`, and moves its record
/// (`reserved`: to room taken already, see [`keep`]). Returns `moved`.
#[cold]
#[inline(never)]
fn moved_sampled(p: *mut u8, moved: *mut u8, e: Realloc, v: Record, reserved: bool) -> *mut u8 {
    let slot = thread::slot();
    let section = Section::open(slot.map(Slot::tally));
    let a = section.access();
    let (mut h, w) = Header::from_entry(v);
    catch_up(slot);
    record::moved(slot, p, moved, e, &mut h, w, a);
    stamp(slot, moved);
    if reserved {
        side::insert_reserved(moved as usize, h.entry(w));
    } else if !side::insert(moved as usize, h.entry(w)) {
        record::forget(h, w, e.new, a);
    }
    counters::count(e, &section);
    moved
}
