//! `full` mode: counts every event, and records every block.
//!
//! Every block aligned to at most 16 carries its record in a 24-byte header in front of the
//! caller's memory (32 bytes in front of a block aligned to 16, the record in the last 24), so
//! the facts about a live block cost that and no lookup. Over-aligned blocks keep the same
//! record in the side table instead. A block allocated while alloc-probe
//! ignores its own allocations is marked so in its header, and stays uncounted wherever it is
//! later freed.

use std::alloc::{GlobalAlloc, Layout};

use super::counts::failed;
use super::path::{inner_alloc, Path};
use super::record;
use crate::counters::{self, Alloc, Dealloc, Realloc, Section};
use crate::sys::{guard, stack};
use crate::thread::{self, Slot};
use crate::tracking::header::{Header, HEADER};
use crate::tracking::points::UNIT_FULL;
use crate::tracking::side;

pub(crate) struct Full;

// Out of line, so that the `counts` path's callers stay small (no registers saved for a path
// they do not take).
impl Path for Full {
    #[inline(always)]
    unsafe fn alloc<A: GlobalAlloc>(inner: &A, layout: Layout, zeroed: bool) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        unsafe { alloc(inner, layout, zeroed) }
    }

    #[inline(always)]
    unsafe fn dealloc<A: GlobalAlloc>(inner: &A, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { dealloc(inner, ptr, layout) }
    }

    #[inline(always)]
    unsafe fn realloc<A: GlobalAlloc>(
        inner: &A,
        ptr: *mut u8,
        layout: Layout,
        new_size: usize,
    ) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        unsafe { realloc(inner, ptr, layout, new_size) }
    }
}

/// Whether a block of this layout carries its record in a header.
#[inline(always)]
fn in_band(layout: Layout) -> bool {
    layout.align() <= 16
}

/// Bytes in front of a block of this layout: the header, rounded up to its alignment.
#[inline(always)]
fn front(layout: Layout) -> usize {
    if layout.align() <= 8 {
        HEADER
    } else {
        32
    }
}

/// The layout asked of the inner allocator for a block of `layout` with `size` bytes and a
/// header.
#[inline(always)]
fn padded(layout: Layout, size: usize) -> Option<Layout> {
    Layout::from_size_align(size.checked_add(front(layout))?, layout.align().max(8)).ok()
}

/// The header of the block at `user`.
///
/// # Safety
/// `user` is a block with a header: the `HEADER` bytes before it, 8-aligned because the
/// inner block is.
#[inline(always)]
unsafe fn read(user: *mut u8) -> Header {
    // SAFETY: the caller's contract.
    unsafe { Header::decode(user.sub(HEADER).cast::<[u64; 3]>().read()) }
}

/// Writes the header of the block at `user`.
///
/// # Safety
/// As for [`read`], and the block is ours to write.
#[inline(always)]
unsafe fn write(user: *mut u8, h: Header) {
    // SAFETY: the caller's contract.
    unsafe { user.sub(HEADER).cast::<[u64; 3]>().write(h.encode()) }
}

/// Allocates through `inner`, and records the block.
///
/// # Safety
/// `GlobalAlloc::alloc`'s contract.
#[inline(never)]
unsafe fn alloc<A: GlobalAlloc>(inner: &A, layout: Layout, zeroed: bool) -> *mut u8 {
    // The frame the stack walk starts from (see `sys::stack::frame_pointer`).
    let start = stack::frame_pointer();
    if !in_band(layout) {
        // SAFETY: the caller's layout is passed on unchanged.
        let p = unsafe { inner_alloc(inner, layout, zeroed) };
        if guard::ignoring() {
            return p;
        }
        if p.is_null() {
            failed();
            return p;
        }
        let slot = thread::slot();
        let section = Section::open(slot.map(Slot::tally));
        let a = section.access();
        let h = record::born(start, slot, p, layout.size(), UNIT_FULL, a);
        // An over-aligned block that could not be recorded stays uncounted, here and at its
        // free, which finds no entry.
        if side::insert(p as usize, h.entry(UNIT_FULL)) {
            counters::count(Alloc(layout.size()), &section);
        } else if h.recorded() {
            record::forget(h, UNIT_FULL, layout.size(), a);
        }
        return p;
    }
    let Some(l2) = padded(layout, layout.size()) else {
        if !guard::ignoring() {
            failed();
        }
        return std::ptr::null_mut();
    };
    // SAFETY: `l2` is a valid non-zero layout.
    let base = unsafe { inner_alloc(inner, l2, zeroed) };
    if base.is_null() {
        if !guard::ignoring() {
            failed();
        }
        return base;
    }
    // SAFETY: the inner block has `front` bytes before the caller's part.
    let user = unsafe { base.add(front(layout)) };
    if guard::ignoring() {
        // SAFETY: `user` is a fresh block with a header.
        unsafe { write(user, Header::ignored()) };
        return user;
    }
    let slot = thread::slot();
    let section = Section::open(slot.map(Slot::tally));
    let h = record::born(
        start,
        slot,
        user,
        layout.size(),
        UNIT_FULL,
        section.access(),
    );
    // SAFETY: as above.
    unsafe { write(user, h) };
    counters::count(Alloc(layout.size()), &section);
    user
}

/// Frees a block allocated by [`alloc`].
///
/// # Safety
/// `GlobalAlloc::dealloc`'s contract.
#[inline(never)]
unsafe fn dealloc<A: GlobalAlloc>(inner: &A, user: *mut u8, layout: Layout) {
    // The frame the frame test's walk starts from (see `sys::stack::frame_pointer`).
    let start = stack::frame_pointer();
    if !in_band(layout) {
        if let Some(entry) = side::remove(user as usize) {
            let slot = thread::slot();
            let section = Section::open(slot.map(Slot::tally));
            let (h, w) = Header::from_entry(entry);
            if h.recorded() {
                record::freed(start, slot, user, layout.size(), h, w, section.access());
            }
            counters::count(Dealloc(layout.size()), &section);
        }
        // SAFETY: the caller's pointer and layout, as allocated.
        unsafe { inner.dealloc(user, layout) };
        return;
    }
    // SAFETY: a block with a header.
    let h = unsafe { read(user) };
    if !h.is_ignored() {
        let slot = thread::slot();
        let section = Section::open(slot.map(Slot::tally));
        if h.recorded() {
            let a = section.access();
            record::freed(start, slot, user, layout.size(), h, UNIT_FULL, a);
        } else {
            record::forget_last(slot);
        }
        counters::count(Dealloc(layout.size()), &section);
    }
    // The same computation succeeded when the block was allocated with this layout; were it
    // ever to fail, leaking the block beats panicking in the allocator.
    if let Some(l2) = padded(layout, layout.size()) {
        // SAFETY: the inner block starts `front` bytes before `user`, with layout `l2`.
        unsafe { inner.dealloc(user.sub(front(layout)), l2) };
    }
}

/// Reallocates a block allocated by [`alloc`].
///
/// # Safety
/// `GlobalAlloc::realloc`'s contract.
#[inline(never)]
unsafe fn realloc<A: GlobalAlloc>(
    inner: &A,
    user: *mut u8,
    layout: Layout,
    new_size: usize,
) -> *mut u8 {
    let e = Realloc {
        old: layout.size(),
        new: new_size,
    };
    if !in_band(layout) {
        // The entry comes out before the inner realloc frees the old address, which another
        // thread may then get and record.
        let entry = side::remove(user as usize);
        // SAFETY: the caller's arguments, unchanged.
        let p = unsafe { inner.realloc(user, layout, new_size) };
        if p.is_null() {
            if let Some(v) = entry {
                record::restore(user, v, layout.size(), true);
            }
            if !guard::ignoring() {
                failed();
            }
            return p;
        }
        if let Some(v) = entry {
            let slot = thread::slot();
            let section = Section::open(slot.map(Slot::tally));
            let a = section.access();
            let (mut h, w) = Header::from_entry(v);
            if h.recorded() {
                record::moved(slot, user, p, e, &mut h, w, a);
            }
            if side::insert(p as usize, h.entry(w)) {
                counters::count(e, &section);
            } else {
                // Lost its entry: from now on the block is uncounted; settle its counts.
                counters::count(Dealloc(layout.size()), &section);
                if h.recorded() {
                    record::forget(h, w, new_size, a);
                }
            }
        }
        return p;
    }
    // SAFETY: a block with a header.
    let mut h = unsafe { read(user) };
    let ignored = h.is_ignored();
    let (Some(old2), Some(new2)) = (padded(layout, layout.size()), padded(layout, new_size)) else {
        if !ignored {
            failed();
        }
        return std::ptr::null_mut();
    };
    // SAFETY: the inner block starts `front` bytes before `user`, with layout `old2`; the new
    // size is non-zero and valid for the alignment (checked by `padded`).
    let base = unsafe { inner.realloc(user.sub(front(layout)), old2, new2.size()) };
    if base.is_null() {
        if !ignored {
            failed();
        }
        return base;
    }
    // SAFETY: the header moved with the block.
    let p = unsafe { base.add(front(layout)) };
    if ignored {
        return p;
    }
    let slot = thread::slot();
    let section = Section::open(slot.map(Slot::tally));
    if h.recorded() {
        record::moved(slot, user, p, e, &mut h, UNIT_FULL, section.access());
        // SAFETY: `p` is the moved block, with its header.
        unsafe { write(p, h) };
    } else {
        record::forget_last(slot);
    }
    counters::count(e, &section);
    p
}
