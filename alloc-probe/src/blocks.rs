//! Block tracking: what the allocator path records about each block, and what it learns when
//! the block is reallocated or freed. This module is the `full` mode's allocator path; the
//! `sampled` mode's (in `sampled`) shares its bookkeeping.
//!
//! In `full` mode every block (alignment up to 16) carries a 16-byte header in front of the
//! caller's memory, so the facts about a live block cost 16 bytes and no lookup. Over-aligned
//! blocks keep the same header in the side table instead. A block allocated while alloc-probe
//! ignores its own allocations is marked so, and stays uncounted wherever it is later freed.
//!
//! Header, two words:
//! `w0 = point id (32) | thread serial (24) << 32 | flags (8) << 56`,
//! `w1 = birth (40 bits of clock ticks / 64) | invocation (24) << 40`.

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::Ordering::Relaxed;

use crate::config;
use crate::probe::inner_alloc;
use crate::sites::{self, Point, UNIT_FULL, UNIT_SAMPLED};
use crate::tally::{self, Slot};
use crate::{clock, guard, peak, sections, side, stack};

/// Bytes in front of each block.
pub(crate) const HEADER: usize = 16;
const F_IGNORED: u32 = 1;
const F_GROWN: u32 = 4;
const BIRTH_SHIFT: u32 = 6;
const BIRTH_MASK: u64 = (1 << 40) - 1;

#[derive(Clone, Copy, Default)]
pub(crate) struct Header {
    point: u32,
    thread: u32,
    /// 8 bits kept; a full word here, so that reading it back after `track_new` wrote it is
    /// one store forwarded to one load (a byte store read by a word load stalls the CPU).
    flags: u32,
    birth: u64,
    invocation: u32,
}

impl Header {
    fn ignored() -> Header {
        Header {
            flags: F_IGNORED,
            ..Header::default()
        }
    }

    /// Whether a program point records the block (false when it could not be recorded).
    pub(crate) fn tracked(self) -> bool {
        self.point != 0
    }

    pub(crate) fn encode(self) -> [u64; 2] {
        [
            u64::from(self.point)
                | u64::from(self.thread & 0xFF_FFFF) << 32
                | u64::from(self.flags & 0xFF) << 56,
            (self.birth & BIRTH_MASK) | u64::from(self.invocation & 0xFF_FFFF) << 40,
        ]
    }

    pub(crate) fn decode(w: [u64; 2]) -> Header {
        Header {
            point: w[0] as u32,
            thread: (w[0] >> 32) as u32 & 0xFF_FFFF,
            flags: (w[0] >> 56) as u32,
            birth: w[1] & BIRTH_MASK,
            invocation: (w[1] >> 40) as u32,
        }
    }
}

/// Whether a block of this layout carries its header in-band.
#[inline(always)]
pub(crate) fn in_band(layout: Layout) -> bool {
    layout.align() <= HEADER
}

/// The layout asked of the inner allocator for an in-band block.
#[inline(always)]
fn padded(layout: Layout, size: usize) -> Option<Layout> {
    Layout::from_size_align(size.checked_add(HEADER)?, layout.align().max(8)).ok()
}

#[inline(always)]
unsafe fn read(user: *mut u8) -> Header {
    // SAFETY: (caller) `user` is an in-band block, so the 16 bytes before it are its header,
    // 8-aligned because the inner block is.
    unsafe {
        let h = user.sub(HEADER) as *const u64;
        Header::decode([h.read(), h.add(1).read()])
    }
}

#[inline(always)]
unsafe fn write(user: *mut u8, h: Header) {
    let w = h.encode();
    // SAFETY: (caller) as for `read`, and the block is ours to write.
    unsafe {
        let p = user.sub(HEADER) as *mut u64;
        p.write(w[0]);
        p.add(1).write(w[1]);
    }
}

/// Allocates through `inner` with tracking. Kept out of line so the `counts` path in
/// `Probe` stays small (no registers saved for a path it does not take).
#[inline(never)]
pub(crate) unsafe fn alloc<A: GlobalAlloc>(inner: &A, layout: Layout, zeroed: bool) -> *mut u8 {
    // The frame the stack walk starts from (see `stack::frame_pointer`).
    let start = stack::frame_pointer();
    if !in_band(layout) {
        // SAFETY: the caller's layout is passed on unchanged.
        let p = unsafe { inner_alloc(inner, layout, zeroed) };
        if guard::ignoring() {
            return p;
        }
        if p.is_null() {
            tally::on_failed();
            return p;
        }
        let slot = tally::slot();
        let solo = sections::begin(slot);
        let (h, w) = (
            track_new(start, slot, p, layout.size(), UNIT_FULL, solo),
            UNIT_FULL,
        );
        let [a, b] = h.encode();
        // An over-aligned block that could not be recorded stays uncounted, here and at
        // its free, which finds no record.
        if side::insert(p as usize, [a, b, w]) {
            tally::count_alloc(slot, layout.size(), solo);
        } else if h.point != 0 {
            forget(h, w, layout.size(), solo);
        }
        sections::end(slot, solo);
        return p;
    }
    let Some(l2) = padded(layout, layout.size()) else {
        if !guard::ignoring() {
            tally::on_failed();
        }
        return std::ptr::null_mut();
    };
    // SAFETY: `l2` is a valid non-zero layout.
    let base = unsafe { inner_alloc(inner, l2, zeroed) };
    if base.is_null() {
        if !guard::ignoring() {
            tally::on_failed();
        }
        return base;
    }
    // SAFETY: the inner block has HEADER bytes before the caller's part.
    let user = unsafe { base.add(HEADER) };
    if guard::ignoring() {
        // SAFETY: `user` is a fresh in-band block.
        unsafe { write(user, Header::ignored()) };
        return user;
    }
    let slot = tally::slot();
    let solo = sections::begin(slot);
    let h = track_new(start, slot, user, layout.size(), UNIT_FULL, solo);
    // SAFETY: as above.
    unsafe { write(user, h) };
    tally::count_alloc(slot, layout.size(), solo);
    sections::end(slot, solo);
    user
}

/// Frees a block allocated by [`alloc`].
#[inline(never)]
pub(crate) unsafe fn dealloc<A: GlobalAlloc>(inner: &A, user: *mut u8, layout: Layout) {
    // The frame the liveness walk starts from (see `stack::frame_pointer`).
    let start = stack::frame_pointer();
    if !in_band(layout) {
        if let Some([a, b, w]) = side::remove(user as usize) {
            let slot = tally::slot();
            let solo = sections::begin(slot);
            let h = Header::decode([a, b]);
            if h.point != 0 {
                untrack(start, slot, user, layout.size(), h, w, solo);
            }
            tally::count_dealloc(slot, layout.size(), solo);
            sections::end(slot, solo);
        }
        // SAFETY: the caller's pointer and layout, as allocated.
        unsafe { inner.dealloc(user, layout) };
        return;
    }
    // SAFETY: an in-band block: its header precedes it.
    let h = unsafe { read(user) };
    if h.flags & F_IGNORED == 0 {
        let slot = tally::slot();
        let solo = sections::begin(slot);
        if h.point != 0 {
            untrack(start, slot, user, layout.size(), h, UNIT_FULL, solo);
        } else {
            forget_last(slot);
        }
        tally::count_dealloc(slot, layout.size(), solo);
        sections::end(slot, solo);
    }
    // The same computation succeeded when the block was allocated with this layout; were it
    // ever to fail, leaking the block beats panicking in the allocator.
    if let Some(l2) = padded(layout, layout.size()) {
        // SAFETY: the inner block starts HEADER bytes before `user`, with layout `l2`.
        unsafe { inner.dealloc(user.sub(HEADER), l2) };
    }
}

/// Reallocates a block allocated by [`alloc`].
#[inline(never)]
pub(crate) unsafe fn realloc<A: GlobalAlloc>(
    inner: &A,
    user: *mut u8,
    layout: Layout,
    new_size: usize,
) -> *mut u8 {
    if !in_band(layout) {
        // The record comes out before the inner realloc frees the old address, which another
        // thread may then get and record.
        let rec = side::remove(user as usize);
        // SAFETY: the caller's arguments, unchanged.
        let p = unsafe { inner.realloc(user, layout, new_size) };
        if p.is_null() {
            if let Some(v) = rec {
                restore(user, v, layout.size(), true);
            }
            if !guard::ignoring() {
                tally::on_failed();
            }
            return p;
        }
        if let Some([a, b, w]) = rec {
            let slot = tally::slot();
            let solo = sections::begin(slot);
            let mut h = Header::decode([a, b]);
            if h.point != 0 {
                retrack(slot, user, p, layout.size(), new_size, &mut h, w, solo);
            }
            let [a, b] = h.encode();
            if side::insert(p as usize, [a, b, w]) {
                tally::count_realloc(slot, layout.size(), new_size, solo);
            } else {
                // Lost its record: from now on the block is uncounted; settle its counts.
                tally::count_dealloc(slot, layout.size(), solo);
                if h.point != 0 {
                    forget(h, w, new_size, solo);
                }
            }
            sections::end(slot, solo);
        }
        return p;
    }
    // SAFETY: an in-band block: its header precedes it.
    let mut h = unsafe { read(user) };
    let ignored = h.flags & F_IGNORED != 0;
    let (Some(old2), Some(new2)) = (padded(layout, layout.size()), padded(layout, new_size)) else {
        if !ignored {
            tally::on_failed();
        }
        return std::ptr::null_mut();
    };
    // SAFETY: the inner block starts HEADER bytes before `user`, with layout `old2`; the new
    // size is non-zero and valid for the alignment (checked by `padded`).
    let base = unsafe { inner.realloc(user.sub(HEADER), old2, new2.size()) };
    if base.is_null() {
        if !ignored {
            tally::on_failed();
        }
        return base;
    }
    // SAFETY: the header moved with the block.
    let p = unsafe { base.add(HEADER) };
    if ignored {
        return p;
    }
    let slot = tally::slot();
    let solo = sections::begin(slot);
    if h.point != 0 {
        retrack(
            slot,
            user,
            p,
            layout.size(),
            new_size,
            &mut h,
            UNIT_FULL,
            solo,
        );
        // SAFETY: `p` is the moved in-band block.
        unsafe { write(p, h) };
    } else {
        forget_last(slot);
    }
    tally::count_realloc(slot, layout.size(), new_size, solo);
    sections::end(slot, solo);
    p
}

/// An event on no tracked block: a tracked block freed next is no longer a temporary.
#[inline(always)]
pub(crate) fn forget_last(slot: Option<&Slot>) {
    if let Some(s) = slot {
        // SAFETY: the allocator path owns this thread's state and does not re-enter.
        unsafe { s.local() }.last_alloc = 0;
    }
}

/// Puts back the record of a block whose realloc failed: the block stays where it was, with
/// its counts as before. Should the table have no room now, the block's site forgets it, and
/// with `settle` (where only recorded blocks are counted) so do the totals.
#[cold]
pub(crate) fn restore(user: *mut u8, v: [u64; 3], size: usize, settle: bool) {
    if !side::insert(user as usize, v) {
        let slot = tally::slot();
        let solo = sections::begin(slot);
        let h = Header::decode([v[0], v[1]]);
        if h.tracked() {
            forget(h, v[2], size, solo);
        }
        if settle {
            tally::count_dealloc(slot, size, solo);
        }
        sections::end(slot, solo);
    }
}

/// Keeps a program point's live bytes at the global peak: before the first change after a new
/// peak, its current figures are the ones it had at the peak.
#[inline(always)]
fn note_change(p: &Point) {
    let e = peak::peak_epoch();
    if p.c.change_epoch.load(Relaxed) < e {
        p.c.gmax_bytes.store(p.c.curr_bytes.load(Relaxed), Relaxed);
        p.c.gmax_blocks.store(p.c.live(), Relaxed);
        p.c.gmax_epoch.store(e, Relaxed);
        p.c.change_epoch.store(e, Relaxed);
    }
}

/// Records the birth of a block of weight `w` at its program point. Returns its header, which
/// names no point when the block cannot be tracked (no slot, no stack bounds, no room).
///
/// Inlined, as are `untrack` and `retrack`: as calls of their own, with the header passed
/// back through memory, `full` mode took 4% to 8% more time in the overhead bench.
#[inline(always)]
pub(crate) fn track_new(
    start: usize,
    slot: Option<&Slot>,
    user: *mut u8,
    size: usize,
    w: u64,
    solo: bool,
) -> Header {
    let Some(slot) = slot else {
        return Header::default(); // thread set-up or teardown: counted, not tracked
    };
    // SAFETY: the allocator path owns this thread's state and does not re-enter.
    let local = unsafe { slot.local() };
    local.last_alloc = user as usize;
    if local.hi == 0 && !local.read_bounds() {
        return Header::default();
    }
    let depth = local.hi.wrapping_sub(start) as u32;
    let mut guessed = None;
    let matched = stack::capture(
        start,
        local.lo,
        local.hi,
        &mut local.bottom,
        &mut local.cap,
        |ip0| {
            let (g, point) = local.guesses.guess(ip0, depth);
            guessed = point;
            g
        },
    );
    let (id, p) = match guessed {
        Some(found) if matched => found,
        _ => {
            let Some((id, p)) = local.recent.point(&local.cap) else {
                return Header::default();
            };
            local.guesses.learn(local.cap.ips[0], depth, id, p);
            (id, p)
        }
    };
    let n = size as u64;
    note_change(p);
    let c = &p.c;
    let born = sections::add(&c.blocks, w, solo);
    sections::add(&c.bytes, n * w, solo);
    let freed = c.freed.load(Relaxed);
    sections::raise(&c.max_blocks, born.saturating_sub(freed), solo);
    sections::raise(
        &c.max_bytes,
        sections::add(&c.curr_bytes, n * w, solo),
        solo,
    );
    sections::raise(&c.max_size, n, solo);
    sections::lower(&c.min_size, n, solo);
    let invocation = local.scopes.current();
    if invocation != 0 {
        sections::add(&c.scoped, w, solo);
        let f = local.scopes.frames[local.scopes.depth - 1].index + 1;
        if c.function.load(Relaxed) != f {
            c.function.store(f, Relaxed);
        }
        local.scopes.note_point(id);
    }
    Header {
        point: id,
        thread: local.serial,
        flags: 0,
        birth: local.now(w) >> BIRTH_SHIFT,
        invocation,
    }
}

/// Undoes `track_new`'s counts for a block that could not be recorded.
#[cold]
pub(crate) fn forget(h: Header, w: u64, size: usize, solo: bool) {
    if let Some(p) = sites::get(h.point) {
        let n = size as u64;
        sections::sub(&p.c.blocks, w, solo);
        sections::sub(&p.c.bytes, n * w, solo);
        sections::sub(&p.c.curr_bytes, n * w, solo);
        if h.invocation != 0 {
            sections::sub(&p.c.scoped, w, solo);
        }
    }
}

/// Whether a new block of `size` bytes is sampled: a Poisson process over allocated bytes.
/// Returns the block's weight, `1 / P(sampled)`, in units of `UNIT_SAMPLED`.
#[inline]
pub(crate) fn sample(s: &Slot, size: usize) -> Option<u64> {
    // SAFETY: a slot's head, and the slot is this thread's.
    unsafe { sample_due(s, size) }.then(|| sampled_weight(s, size))
}

/// [`sample`]'s countdown alone: whether the block is sampled. If so, [`sampled_weight`] must
/// be called next.
///
/// # Safety
/// `h` is the head of this thread's slot (not a stand-in: see `tally::Head::sample_left`).
#[inline(always)]
pub(crate) unsafe fn sample_due(h: &tally::Head, size: usize) -> bool {
    // SAFETY: per the contract, the countdown is this thread's alone.
    let left = unsafe { &mut *h.sample_left.get() };
    *left -= size as i64;
    *left < 0
}

/// The weight of a block [`sample_due`] chose on slot `s`, this thread's; starts the gap to
/// the next sample.
#[cold]
pub(crate) fn sampled_weight(s: &Slot, size: usize) -> u64 {
    // Memoryless: the next gap starts afresh after a sample.
    // SAFETY: the allocator path owns this thread's state and does not re-enter.
    unsafe { *s.sample_left.get() = s.local().sample_gap() };
    let rate = config::sample_rate() as f64;
    let p = -(-(size as f64) / rate).exp_m1();
    ((UNIT_SAMPLED as f64) / p).round() as u64
}

/// Records a tracked block's free.
#[inline(always)]
pub(crate) fn untrack(
    start: usize,
    slot: Option<&Slot>,
    user: *mut u8,
    size: usize,
    h: Header,
    w: u64,
    solo: bool,
) {
    let Some(p) = sites::get(h.point) else { return };
    let n = size as u64;
    note_change(p);
    let c = &p.c;
    sections::add(&c.freed, w, solo);
    sections::sub(&c.curr_bytes, n * w, solo);
    let age = |now: u64| ((now >> BIRTH_SHIFT).wrapping_sub(h.birth) & BIRTH_MASK) << BIRTH_SHIFT;
    let Some(slot) = slot else {
        sections::add(
            &c.lifetime_ticks,
            age(clock::ticks()).saturating_mul(w),
            solo,
        );
        sections::add(&c.freed_elsewhere, w, solo); // teardown: no way to test the frames
        return;
    };
    // SAFETY: the allocator path owns this thread's state and does not re-enter.
    let local = unsafe { slot.local() };
    sections::add(&c.lifetime_ticks, age(local.now(w)).saturating_mul(w), solo);
    if local.last_alloc == user as usize {
        sections::add(&c.temporary, w, solo);
    }
    local.last_alloc = 0;
    if local.serial != h.thread {
        sections::add(&c.freed_elsewhere, w, solo);
        return;
    }
    let small = h.flags & F_GROWN == 0 && n <= config::stack_limit();
    if h.invocation != 0 {
        if let Some(f) = local.scopes.find(h.invocation) {
            sections::add(&c.scoped_in_call, w, solo);
            if small {
                sections::add(&c.scoped_small_in_call, w, solo);
            }
            let (t, owned) = crate::functions::tally(Some(&slot.fns), f.index);
            t.add_class(w, small, owned);
        }
        return;
    }
    let k = stack::first_live(start, p.frames(), &p.ips, local.lo, local.hi);
    sections::add(&p.live_from[k], w, solo);
    if small {
        sections::add(&p.small_live_from[k], w, solo);
    }
}

/// Records a tracked block's reallocation from `old` to `new` bytes, moving it to `moved`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn retrack(
    slot: Option<&Slot>,
    user: *mut u8,
    moved: *mut u8,
    old: usize,
    new: usize,
    h: &mut Header,
    w: u64,
    solo: bool,
) {
    let Some(p) = sites::get(h.point) else { return };
    let (o, n) = (old as u64, new as u64);
    note_change(p);
    let c = &p.c;
    sections::add(&c.reallocs, w, solo);
    sections::add(&c.bytes, n * w, solo);
    let now = sections::add(&c.curr_bytes, (n * w).wrapping_sub(o * w), solo);
    sections::raise(&c.max_bytes, now, solo);
    sections::raise(&c.max_size, n, solo);
    sections::lower(&c.min_size, n, solo);
    if n > o && h.flags & F_GROWN == 0 {
        h.flags |= F_GROWN;
        sections::add(&c.grown, w, solo);
    }
    if let Some(slot) = slot {
        // SAFETY: the allocator path owns this thread's state and does not re-enter.
        let local = unsafe { slot.local() };
        if local.last_alloc == user as usize {
            sections::add(&c.temporary, w, solo);
        }
        local.last_alloc = moved as usize;
    }
}
