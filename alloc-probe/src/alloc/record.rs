//! What the `full` and `sampled` modes record about a block at its program point: its birth,
//! its moves (reallocations) and its free, with the classes a free decides. Each block of
//! weight `w` counts `w` at its point (see `tracking::points`).
//!
//! Inlined into the allocator path, so that the record comes back in registers.

use std::sync::atomic::Ordering::Relaxed;

use crate::counters::{self, Access, Dealloc, Realloc, Section};
use crate::sys::{clock, settings};
use crate::thread::{self, Slot};
use crate::tracking::header::{Header, Record};
use crate::tracking::{capture, functions, points, side};

/// Records the birth of a block of `size` bytes and weight `w` at `user`, in a section of
/// access `a`; `start` is the allocator entry's frame, where the stack walk starts. Returns
/// its record, which names no point when the block cannot be recorded (no slot, no stack
/// bounds, no room).
#[inline(always)]
pub(crate) fn born(
    start: usize,
    slot: Option<&Slot>,
    user: *mut u8,
    size: usize,
    w: u64,
    a: Access,
) -> Header {
    let Some(slot) = slot else {
        return Header::default(); // thread set-up or teardown: counted, not recorded
    };
    // SAFETY: the allocator path owns this thread's state and does not re-enter.
    let tracker = unsafe { slot.tracker() };
    tracker.last_alloc = user as usize;
    if tracker.hi == 0 && !tracker.read_bounds() {
        return Header::default();
    }
    capture::capture(
        start,
        tracker.lo,
        tracker.hi,
        &mut tracker.bottom,
        &mut tracker.cap,
        &mut tracker.rules,
    );
    let Some((id, p)) = tracker.recent.point(&tracker.cap, &mut tracker.trail) else {
        points::unsited(size, w);
        return Header::default();
    };
    let n = size as u64;
    p.note_change();
    let c = &p.c;
    let born = c.blocks.add(w, a);
    c.bytes.add(n * w, a);
    let freed = c.freed.get();
    c.max_blocks.raise(born.saturating_sub(freed), a);
    c.max_bytes.raise(c.curr_bytes.add(n * w, a), a);
    c.max_size.raise(n, a);
    c.min_size.lower(n, a);
    let invocation = tracker.calls.current();
    if invocation != 0 {
        let f = tracker.calls.current_index() + 1;
        if p.function.load(Relaxed) != f {
            p.function.store(f, Relaxed);
        }
        tracker.calls.note_point(id);
    }
    Header::new(id, tracker.serial, invocation, tracker.now(w))
}

/// Undoes [`born`]'s counts for a block that could not be recorded after all.
#[cold]
pub(crate) fn forget(h: Header, w: u64, size: usize, a: Access) {
    if let Some(p) = points::get(h.point) {
        let n = size as u64;
        p.c.blocks.sub(w, a);
        p.c.bytes.sub(n * w, a);
        p.c.curr_bytes.sub(n * w, a);
    }
}

/// Records the free of a recorded block of `size` bytes, weight `w` and record `h` at
/// `user`, and its classes; `start` is the allocator entry's frame, where the frame test's
/// walk starts.
#[inline(always)]
pub(crate) fn freed(
    start: usize,
    slot: Option<&Slot>,
    user: *mut u8,
    size: usize,
    h: Header,
    w: u64,
    a: Access,
) {
    let Some(p) = points::get(h.point) else {
        return;
    };
    let n = size as u64;
    p.note_change();
    let c = &p.c;
    c.freed.add(w, a);
    c.curr_bytes.sub(n * w, a);
    let Some(slot) = slot else {
        c.lifetime_ticks
            .add(h.age(clock::ticks()).saturating_mul(w), a);
        c.freed_elsewhere.add(w, a); // teardown: no way to test the frames
        return;
    };
    // SAFETY: the allocator path owns this thread's state and does not re-enter.
    let tracker = unsafe { slot.tracker() };
    let own = tracker.serial == h.thread;
    // A thread's coarse clock runs behind by up to `CLOCK_EVERY` events (see `Tracker::now`):
    // a block born on another thread is aged by the clock itself, or its lifetime could come
    // out negative.
    let now = if own { tracker.now(w) } else { clock::ticks() };
    c.lifetime_ticks.add(h.age(now).saturating_mul(w), a);
    if tracker.last_alloc == user as usize {
        c.temporary.add(w, a);
    }
    tracker.last_alloc = 0;
    let small = !h.grown() && n <= settings::stack_limit();
    if h.invocation != 0 {
        // Born in a tracked call: it stayed inside it if that call is running here, on
        // whichever thread (an async call's polls move between a runtime's workers).
        if let Some(call) = tracker.calls.find(h.invocation) {
            p.stayed.add(points::IN_CALL, w, small, a);
            let (counts, access) = functions::counts_of(slot.fns(), call.index);
            counts.add_class(w, small, access);
            return;
        }
        if own {
            return; // its call has returned: escaped, which no frame test can undo
        }
    }
    if !own {
        c.freed_elsewhere.add(w, a);
        return;
    }
    if let Some(k) = capture::first_live(start, p.leaf, tracker.lo, tracker.hi) {
        p.stayed.add(k, w, small, a);
    }
}

/// Records the reallocation `e` of a recorded block with record `h` and weight `w`, from
/// `user` to `moved`.
#[inline(always)]
pub(crate) fn moved(
    slot: Option<&Slot>,
    user: *mut u8,
    moved: *mut u8,
    e: Realloc,
    h: &mut Header,
    w: u64,
    a: Access,
) {
    let Some(p) = points::get(h.point) else {
        return;
    };
    let (o, n) = (e.old as u64, e.new as u64);
    p.note_change();
    let c = &p.c;
    c.reallocs.add(w, a);
    c.bytes.add(n * w, a);
    let now = c.curr_bytes.add((n * w).wrapping_sub(o * w), a);
    c.max_bytes.raise(now, a);
    c.max_size.raise(n, a);
    c.min_size.lower(n, a);
    if n > o && !h.grown() {
        h.set_grown();
        c.grown.add(w, a);
    }
    if let Some(slot) = slot {
        // SAFETY: the allocator path owns this thread's state and does not re-enter.
        let tracker = unsafe { slot.tracker() };
        if tracker.last_alloc == user as usize {
            c.temporary.add(w, a);
        }
        tracker.last_alloc = moved as usize;
    }
}

/// An event on no recorded block: a recorded block freed next is no longer a temporary.
#[inline(always)]
pub(crate) fn forget_last(slot: Option<&Slot>) {
    if let Some(s) = slot {
        // SAFETY: the allocator path owns this thread's state and does not re-enter.
        unsafe { s.tracker() }.last_alloc = 0;
    }
}

/// Puts back the side-table entry `v` of a block at `user` whose realloc failed: the block
/// stays where it was, with its counts as before. Should the table have no room now, the
/// block's site forgets it, and with `settle` (where only blocks with an entry are counted)
/// so do the totals.
#[cold]
pub(crate) fn restore(user: *mut u8, v: Record, size: usize, settle: bool) {
    if !side::insert(user as usize, v) {
        let slot = thread::slot();
        let section = Section::open(slot.map(Slot::tally));
        let (h, w) = Header::from_entry(v);
        if h.recorded() {
            forget(h, w, size, section.access());
        }
        if settle {
            counters::count(Dealloc(size), &section);
        }
    }
}
