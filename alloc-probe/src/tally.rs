//! Per-thread tallies, folded into process totals on demand.
//!
//! Each thread owns a [`Slot`] of counters that only it writes, so threads never contend on
//! them. `stats()` sums every slot. Slots live in a lock-free, never-freed list of mapped
//! pages (see `pages`); a thread that exits hands its slot back for reuse without clearing it
//! (the counts are cumulative process totals, and [`measure`](crate::measure) works on
//! deltas), so no count is ever lost, and claiming or releasing a slot takes no lock.
//!
//! The slot also holds the thread's share of the live bytes, with which `peak` keeps the
//! process's peak exact without a shared write per event (the share's limit, and its grant,
//! are written by other threads under `peak`'s lock).
//!
//! Allocations made where the thread has no slot (while its slot is being set up, or after its
//! thread-local destructors released it) go to shared atomic fallback counters instead, and
//! take `peak`'s lock.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::{Cell, UnsafeCell};
use std::hint::cold_path;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicU8, Ordering::*};

use crate::functions::{Tally, LOCAL_FNS};
use crate::local::Local;
use crate::stats::Stats;
use crate::{pages, peak, sections};

/// What every allocator event touches: the first part of each slot, and the whole of the
/// stand-ins whose path is never known: those a thread without a slot points at, and the one
/// a thread with a window open does (see `HEAD`). The allocator path reads a head without
/// first asking whether the thread has a slot: an unknown path sends it to the general path,
/// which asks.
#[repr(C)]
pub(crate) struct Head {
    allocs: AtomicU64,
    deallocs: AtomicU64,
    reallocs: AtomicU64,
    /// This thread's share of the live bytes: the bytes it allocated and freed (see `peak`).
    pub(crate) share: peak::Share,
    /// `sampled` mode: bytes left until the next sampled allocation (see
    /// `blocks::sample_due`). Only a slot's owner touches it, and only once it has seen a
    /// known path, which no stand-in has.
    pub(crate) sample_left: UnsafeCell<i64>,
    /// Set while the owner, as the lone writer, updates shared counters without a locked
    /// instruction (see `sections`).
    pub(crate) busy: AtomicBool,
    /// How its owner updates shared counters: `sections::{UNKNOWN, LONE, LOCKED}`.
    pub(crate) path: AtomicU8,
}

impl Head {
    /// A stand-in's head: nothing counted, and a path never known.
    const fn stand_in() -> Head {
        Head {
            allocs: AtomicU64::new(0),
            deallocs: AtomicU64::new(0),
            reallocs: AtomicU64::new(0),
            share: peak::Share::new(),
            sample_left: UnsafeCell::new(0),
            busy: AtomicBool::new(false),
            path: AtomicU8::new(sections::UNKNOWN),
        }
    }

    /// Live bytes this slot added: allocated minus freed.
    #[inline(always)]
    pub(crate) fn net(&self) -> u64 {
        self.share.net()
    }
}

/// Counters of one thread. Written only by the owning thread; read by anyone.
///
/// In declaration order (`repr(C)`): what every allocator event touches comes first.
#[repr(C, align(128))]
pub(crate) struct Slot {
    head: Head,
    pub(crate) in_use: AtomicBool,
    failed: AtomicU64,
    next: *const Slot,
    /// The live bytes this thread may reach without asking (see `peak`; under its lock).
    pub(crate) grant: AtomicU64,
    /// Whether the settlement under way thaws this slot (see `peak::settle`; under its lock).
    pub(crate) thaw: AtomicBool,
    /// The highest net live bytes (allocated minus freed) of this slot while a window is
    /// open, for `measure` and tracked calls (see [`open_window`]).
    peak_net: AtomicU64,
    /// Tracking state; only the owning thread touches it.
    local: UnsafeCell<Local>,
    /// Tracked functions' counters on this thread (see `functions`).
    pub(crate) fns: [Tally; LOCAL_FNS],
}

// SAFETY: the counters are atomics; `next` is written once before the slot is published;
// `local` is only accessed by the thread that owns the slot (see `Slot::local`).
unsafe impl Sync for Slot {}

/// Adds to a counter only this thread writes: a relaxed load and store, no locked instruction.
#[inline(always)]
fn bump(c: &AtomicU64, n: u64) {
    c.store(c.load(Relaxed).wrapping_add(n), Relaxed);
}

// SAFETY: the counters are atomics; `sample_left` is only touched by the owner of a slot (see
// there), never in a stand-in, the only heads shared between threads as heads.
unsafe impl Sync for Head {}

impl std::ops::Deref for Slot {
    type Target = Head;

    #[inline(always)]
    fn deref(&self) -> &Head {
        &self.head
    }
}

impl Slot {
    /// This thread's tracking state.
    ///
    /// # Safety
    /// Only the thread owning the slot may call this, and it must not hold two results at
    /// once (the allocator path never re-enters itself, so it cannot).
    #[inline(always)]
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn local(&self) -> &mut Local {
        // SAFETY: per the contract above, this is the only reference.
        unsafe { &mut *self.local.get() }
    }

    /// Raises the slot's peak mark to `net`, its live bytes now. Only the general path does,
    /// and every event of a thread with a window open takes it (see [`open_window`]).
    #[inline(always)]
    pub(crate) fn raise_mark(&self, net: u64) {
        if (net as i64) > (self.peak_net.load(Relaxed) as i64) {
            self.peak_net.store(net, Relaxed);
        }
    }

    /// The events this slot counted: allocations, frees and reallocations. Only the owner
    /// may rely on it between two of its own events.
    #[inline(always)]
    pub(crate) fn events(&self) -> u64 {
        let a = self.allocs.load(Relaxed);
        a.wrapping_add(self.deallocs.load(Relaxed))
            .wrapping_add(self.reallocs.load(Relaxed))
    }

    /// This slot's allocs, reallocs and bytes allocated: what a tracked call measures.
    #[inline(always)]
    pub(crate) fn event_counts(&self) -> (u64, u64, u64) {
        (
            self.allocs.load(Relaxed),
            self.reallocs.load(Relaxed),
            self.share.sums().0,
        )
    }

    pub(crate) fn snapshot(&self) -> Counters {
        let (ups, downs) = self.share.sums();
        Counters {
            allocs: self.allocs.load(Relaxed),
            deallocs: self.deallocs.load(Relaxed),
            reallocs: self.reallocs.load(Relaxed),
            bytes_allocated: ups,
            bytes_deallocated: downs,
            failed: self.failed.load(Relaxed),
        }
    }
}

/// The cumulative counters of a slot, a fallback or a sum of them.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counters {
    pub allocs: u64,
    pub deallocs: u64,
    pub reallocs: u64,
    pub bytes_allocated: u64,
    pub bytes_deallocated: u64,
    pub failed: u64,
}

impl Counters {
    fn add(&mut self, o: &Counters) {
        self.allocs = self.allocs.wrapping_add(o.allocs);
        self.deallocs = self.deallocs.wrapping_add(o.deallocs);
        self.reallocs = self.reallocs.wrapping_add(o.reallocs);
        self.bytes_allocated = self.bytes_allocated.wrapping_add(o.bytes_allocated);
        self.bytes_deallocated = self.bytes_deallocated.wrapping_add(o.bytes_deallocated);
        self.failed = self.failed.wrapping_add(o.failed);
    }

    /// The delta `self - earlier` as [`Stats`], with the given peak.
    pub(crate) fn since(&self, earlier: &Counters, peak: u64) -> Stats {
        let allocs = self.allocs.wrapping_sub(earlier.allocs);
        let deallocs = self.deallocs.wrapping_sub(earlier.deallocs);
        let bytes_allocated = self.bytes_allocated.wrapping_sub(earlier.bytes_allocated);
        let bytes_deallocated = self
            .bytes_deallocated
            .wrapping_sub(earlier.bytes_deallocated);
        Stats {
            allocs,
            deallocs,
            reallocs: self.reallocs.wrapping_sub(earlier.reallocs),
            bytes_allocated,
            bytes_deallocated,
            live_blocks: allocs.saturating_sub(deallocs),
            live_bytes: bytes_allocated.saturating_sub(bytes_deallocated),
            peak_live_bytes: peak,
            failed: self.failed.wrapping_sub(earlier.failed),
        }
    }
}

/// Shared counters for threads without a slot (rare: set-up and teardown).
struct Fallback {
    allocs: AtomicU64,
    deallocs: AtomicU64,
    reallocs: AtomicU64,
    bytes_allocated: AtomicU64,
    bytes_deallocated: AtomicU64,
    failed: AtomicU64,
}

static FALLBACK: Fallback = Fallback {
    allocs: AtomicU64::new(0),
    deallocs: AtomicU64::new(0),
    reallocs: AtomicU64::new(0),
    bytes_allocated: AtomicU64::new(0),
    bytes_deallocated: AtomicU64::new(0),
    failed: AtomicU64::new(0),
};

static SLOTS: AtomicPtr<Slot> = AtomicPtr::new(ptr::null_mut());
/// Set once a `Probe` has taken a call, after the mode is fixed: the API checks it to fail
/// loudly when `Probe` is not the global allocator. Not by claiming a slot, which a tracked
/// call does too.
pub(crate) static INSTALLED: AtomicBool = AtomicBool::new(false);

/// A `Probe` took its first call, and fixed the mode: the API may run, and the exit report and
/// fork hooks are installed. Runs in the allocator path (see `hooks::install`).
pub(crate) fn on_installed() {
    INSTALLED.store(true, Relaxed);
    crate::hooks::install();
}

/// The heads a thread without a slot points at: before it claims one, while it sets one up,
/// and after its thread-local destructors handed it back (or when there was none to map).
/// And one a thread with a slot points its allocator path at while a window is open (see
/// [`open_window`]).
static STAND_INS: [Head; 4] = [
    Head::stand_in(),
    Head::stand_in(),
    Head::stand_in(),
    Head::stand_in(),
];
const UNCLAIMED: &Head = &STAND_INS[0];
const SETTING_UP: &Head = &STAND_INS[1];
const RELEASED: &Head = &STAND_INS[2];
const WINDOWED: &Head = &STAND_INS[3];

thread_local! {
    /// The head of this thread's slot, or a stand-in. Const and destructor-free, so readable
    /// during thread-local teardown.
    static LOCAL: Cell<*const Head> = const { Cell::new(UNCLAIMED) };
    /// The head the allocator path counts on (see [`head`]): `LOCAL`'s, except while a window
    /// is open, when it is `WINDOWED`.
    static HEAD: Cell<*const Head> = const { Cell::new(UNCLAIMED) };
    /// How many windows are open on this thread.
    static WINDOWS: Cell<u32> = const { Cell::new(0) };
    /// Hands the slot back when the thread exits.
    static OWNER: SlotOwner = const { SlotOwner };
}

struct SlotOwner;

impl Drop for SlotOwner {
    fn drop(&mut self) {
        let _ = HEAD.try_with(|h| h.set(RELEASED));
        let _ = LOCAL.try_with(|l| {
            if let Some(s) = as_slot(l.replace(RELEASED)) {
                s.in_use.store(false, Release);
            }
        });
    }
}

/// The head this thread's events count on: its slot's, or a stand-in's, whose path is never
/// known. No test: what the allocator path reads first.
#[inline(always)]
pub(crate) fn head() -> &'static Head {
    // SAFETY: `HEAD` only holds stand-ins and the heads of slots, which are never freed.
    unsafe { &*HEAD.try_with(Cell::get).unwrap_or(RELEASED) }
}

/// Sets this thread's `LOCAL`, and `HEAD` with it; `None` if the thread-locals are gone.
fn set_local(h: *const Head) -> Option<()> {
    LOCAL.try_with(|l| l.set(h)).ok()?;
    let windowed = WINDOWS.try_with(Cell::get).unwrap_or(0) > 0 && as_slot(h).is_some();
    HEAD.try_with(|f| f.set(if windowed { WINDOWED } else { h }))
        .ok()
}

/// Opens a window (a `measure` or a tracked call) on this thread, whose slot is `s`: starts
/// the slot's peak mark at its live bytes now, and returns the mark it had, which
/// [`close_window`] gives back (windows nest). Until then the thread's allocator path reads
/// the `WINDOWED` stand-in, whose unknown path sends every event to the general path, which
/// counts it the quick way on the slot's own head and raises the mark: the quick path does
/// not, so that the mark costs nothing while no window is open.
pub(crate) fn open_window(s: &Slot) -> u64 {
    let saved = s.peak_net.load(Relaxed);
    s.peak_net.store(s.net(), Relaxed);
    let _ = WINDOWS.try_with(|w| {
        let n = w.get();
        w.set(n.saturating_add(1));
        if n == 0 && as_slot(local()).is_some() {
            let _ = HEAD.try_with(|h| h.set(WINDOWED));
        }
    });
    saved
}

/// The general path's first try while a window is open on this thread (see [`open_window`]):
/// `count`, a quick count, on the slot's own head, then the mark raised (and the grant renewed
/// if need be). False if no window is open, or the quick count counted nothing (the path is
/// not known yet): then the general path counts.
#[inline(always)]
fn count_windowed(count: impl FnOnce(&Head) -> Quick) -> bool {
    if !ptr::eq(HEAD.try_with(Cell::get).unwrap_or(RELEASED), WINDOWED) {
        return false;
    }
    let Some(s) = current() else { return false };
    let q = count(s);
    if q == Quick::NotCounted {
        return false;
    }
    s.raise_mark(s.net());
    if q == Quick::PastLimit {
        peak::over_limit(s);
    }
    true
}

/// Closes the window of slot `s` that [`open_window`] opened and that returned `saved`:
/// returns the window's peak mark, and gives the enclosing window its own back. The last
/// window gives the allocator path its slot's head back (or the stand-in `LOCAL` now holds,
/// if the slot was handed back meanwhile).
pub(crate) fn close_window(s: &Slot, saved: u64) -> u64 {
    let high = s.peak_net.load(Relaxed);
    if (saved as i64) > (high as i64) {
        s.peak_net.store(saved, Relaxed);
    }
    let _ = WINDOWS.try_with(|w| {
        let n = w.get().saturating_sub(1);
        w.set(n);
        if n == 0 {
            let _ = HEAD.try_with(|h| h.set(local()));
        }
    });
    high
}

/// `LOCAL`'s pointer, kept raw: it carries the whole slot's provenance, which a reference to
/// the head would narrow to the head.
#[inline(always)]
fn local() -> *const Head {
    LOCAL.try_with(Cell::get).unwrap_or(RELEASED)
}

/// This thread's slot, claiming one on first use; `None` while setting up or after teardown.
#[inline(always)]
pub(crate) fn slot() -> Option<&'static Slot> {
    let h = local();
    match as_slot(h) {
        None if ptr::eq(h, UNCLAIMED) => claim(),
        s => s,
    }
}

/// This thread's slot if it has one, without claiming one.
#[inline(always)]
pub(crate) fn current() -> Option<&'static Slot> {
    as_slot(local())
}

/// The slot whose head `h` (a `LOCAL` value) is, unless `h` is a stand-in.
#[inline(always)]
fn as_slot(h: *const Head) -> Option<&'static Slot> {
    let offset = (h as usize).wrapping_sub(STAND_INS.as_ptr() as usize);
    // SAFETY: a head that is not a stand-in is the first field of a `repr(C)` slot, whose
    // address `LOCAL` was given as a raw pointer with the whole slot's provenance; slots are
    // never freed.
    (offset >= std::mem::size_of_val(&STAND_INS)).then(|| unsafe { &*h.cast::<Slot>() })
}

#[cold]
fn claim() -> Option<&'static Slot> {
    set_local(SETTING_UP)?;
    let slot = reuse_slot().or_else(new_slot);
    match slot {
        Some(s) => {
            sections::on_new_slot(s);
            let _ = set_local((s as *const Slot).cast::<Head>());
            // Registers the destructor that hands the slot back; if that allocates, the
            // allocation is counted in the slot we just set.
            let _ = OWNER.try_with(|_| ());
        }
        None => {
            // Out of memory for a slot: stay on the shared fallback counters.
            let _ = set_local(RELEASED);
        }
    }
    slot
}

fn reuse_slot() -> Option<&'static Slot> {
    let mut p = SLOTS.load(Acquire) as *const Slot;
    while !p.is_null() {
        // SAFETY: slots in the list are never freed.
        let s = unsafe { &*p };
        if !s.in_use.load(Relaxed)
            && s.in_use
                .compare_exchange(false, true, Acquire, Relaxed)
                .is_ok()
        {
            // The previous owner's peak means nothing to us.
            s.peak_net.store(s.net(), Relaxed);
            // SAFETY: we now own the slot.
            start(s);
            return Some(s);
        }
        p = s.next;
    }
    None
}

/// Sets a slot up for the thread that now owns it.
fn start(s: &Slot) {
    // SAFETY: the caller owns the slot, and holds no other reference to its state.
    let local = unsafe { s.local() };
    local.start();
    // SAFETY: as above: the slot is the caller's.
    unsafe { *s.sample_left.get() = local.sample_gap() };
}

/// A new slot owned by nobody's `LOCAL`, for unit tests of the books.
#[cfg(test)]
pub(crate) fn new_test_slot() -> &'static Slot {
    new_slot().expect("mapped a slot")
}

fn new_slot() -> Option<&'static Slot> {
    let layout = Layout::new::<Slot>();
    // Mapped, not taken from `System`'s heap, which is the program's (see `pages`). The slot
    // is built in place: it is large (per-thread tables), too large to assemble on a small
    // thread stack.
    let p = pages::map_zeroed(layout.size()).cast::<Slot>();
    if p.is_null() {
        return None;
    }
    // SAFETY: all-zero bytes are a valid Slot (atomics, integers, null pointers, 0.0); nobody
    // else sees it until the compare-exchange below publishes it.
    unsafe {
        (*p).in_use = AtomicBool::new(true);
        (*p).head.share = peak::Share::new();
    }
    // SAFETY: still unpublished, so ours alone.
    start(unsafe { &*p });
    let mut head = SLOTS.load(Acquire);
    loop {
        // SAFETY: still unpublished, so ours alone.
        unsafe { (*p).next = head };
        match SLOTS.compare_exchange_weak(head, p, AcqRel, Acquire) {
            // SAFETY: published and never freed.
            Ok(_) => return Some(unsafe { &*p }),
            Err(h) => head = h,
        }
    }
}

/// Counts a successful allocation of `size` bytes.
#[inline(always)]
pub(crate) fn on_alloc(size: usize) {
    if count_windowed(|h| quick_alloc(h, h.path.load(Relaxed), size)) {
        return;
    }
    let s = slot();
    let solo = sections::begin(s);
    count_alloc(s, size, solo);
    sections::end(s, solo);
}

// The paths of `counts` mode, and of `sampled` mode's unsampled blocks. An event there
// touches no counter other threads write, only this thread's slot, so it needs no update
// section: the lone writer stores its share plainly and compares it with its limit (see
// `peak::lone_grow`), a thread past the switch makes the locked exchange. They say what they
// did ([`Quick`]): where the thread has no slot or its path is not known yet they count
// nothing, and the caller takes the general path; where the share passed its limit the
// caller calls [`over_limit`]. Both out of line, and after the event, so that these compile
// to a few instructions and their callers end in tail calls.

/// `f` (a quick count) on this thread's head (a stand-in's path is never known, so `f` counts
/// nothing there).
#[inline(always)]
pub(crate) fn quick(f: impl FnOnce(&Head) -> Quick) -> Quick {
    f(head())
}

/// What a quick count did.
#[derive(Clone, Copy, PartialEq, Eq)]
#[must_use]
pub(crate) enum Quick {
    Counted,
    /// Counted, and the thread's share is now past its limit: [`over_limit`] must follow
    /// (before a freed block goes back to the allocator).
    PastLimit,
    /// Nothing: the general path must count it.
    NotCounted,
}

impl Quick {
    #[inline(always)]
    fn counted(past: bool) -> Quick {
        if past {
            Quick::PastLimit
        } else {
            Quick::Counted
        }
    }
}

/// Counts an allocation of `size` bytes on this thread's slot `s`, if its path (read by the
/// caller) is known.
#[inline(always)]
pub(crate) fn quick_alloc(s: &Head, path: u8, size: usize) -> Quick {
    let n = size as u64;
    // The count first, so that the limit's test ends the path.
    let past = if path == sections::LONE {
        bump(&s.allocs, 1);
        peak::lone_grow(s, n)
    } else if path == sections::LOCKED {
        bump(&s.allocs, 1);
        peak::locked_grow(s, n)
    } else {
        cold_path();
        return Quick::NotCounted;
    };
    Quick::counted(past)
}

/// Counts a free of `size` bytes on this thread's slot `s`, if its path is known.
#[inline(always)]
pub(crate) fn quick_dealloc(s: &Head, size: usize) -> Quick {
    let n = size as u64;
    let path = s.path.load(Relaxed);
    let past = if path == sections::LONE {
        bump(&s.deallocs, 1);
        peak::lone_shrink(s, n);
        false
    } else if path == sections::LOCKED {
        bump(&s.deallocs, 1);
        peak::locked_shrink(s, n)
    } else {
        cold_path();
        return Quick::NotCounted;
    };
    Quick::counted(past)
}

/// Counts a reallocation from `old` to `new` bytes on this thread's slot `s`, if its path is known.
#[inline(always)]
pub(crate) fn quick_realloc(s: &Head, old: usize, new: usize) -> Quick {
    let (o, n) = (old as u64, new as u64);
    let path = s.path.load(Relaxed);
    let past = if path == sections::LONE {
        bump(&s.reallocs, 1);
        peak::lone_resize(s, o, n)
    } else if path == sections::LOCKED {
        bump(&s.reallocs, 1);
        peak::locked_resize(s, o, n)
    } else {
        cold_path();
        return Quick::NotCounted;
    };
    Quick::counted(past)
}

/// Counts an allocation of `size` bytes that returned `p` (not null) on head `h` (this
/// thread's): the quick way when it can, else out of line. Returns `p`.
#[inline(always)]
pub(crate) fn alloc_counted(h: &Head, p: *mut u8, size: usize) -> *mut u8 {
    alloc_counted_on(h, h.path.load(Relaxed), p, size)
}

/// [`alloc_counted`], with the path already read.
#[inline(always)]
pub(crate) fn alloc_counted_on(h: &Head, path: u8, p: *mut u8, size: usize) -> *mut u8 {
    match quick_alloc(h, path, size) {
        Quick::Counted => p,
        Quick::PastLimit => over_limit_then(p),
        Quick::NotCounted => alloc_rest(p, size),
    }
}

/// [`alloc_counted`] for a reallocation from `old` to `new` bytes that returned `p`.
#[inline(always)]
pub(crate) fn realloc_counted(h: &Head, p: *mut u8, old: usize, new: usize) -> *mut u8 {
    match quick_realloc(h, old, new) {
        Quick::Counted => p,
        Quick::PastLimit => over_limit_then(p),
        Quick::NotCounted => realloc_rest(p, old, new),
    }
}

/// After [`Quick::PastLimit`]: a new peak, or a grant to renew (see `peak::over_limit`).
#[cold]
#[inline(never)]
pub(crate) fn over_limit() {
    if let Some(s) = current() {
        peak::over_limit(s);
    }
}

/// [`over_limit`], for a free: then gives the block back to `inner`. Out of line, so that the
/// caller's fast path ends in a tail call.
///
/// # Safety
/// `GlobalAlloc::dealloc`'s contract for `inner`, `p` and `layout`.
#[cold]
#[inline(never)]
pub(crate) unsafe fn over_limit_then_free<A: GlobalAlloc>(inner: &A, p: *mut u8, layout: Layout) {
    over_limit();
    // SAFETY: the caller's contract.
    unsafe { inner.dealloc(p, layout) }
}

/// A free the quick count could not count (the thread has no slot, or its path is not known):
/// counts it the general way, then gives the block back to `inner`. Out of line, so that the
/// caller's fast path ends in a tail call.
///
/// # Safety
/// `GlobalAlloc::dealloc`'s contract for `inner`, `p` and `layout`.
#[cold]
#[inline(never)]
pub(crate) unsafe fn dealloc_rest<A: GlobalAlloc>(inner: &A, p: *mut u8, layout: Layout) {
    on_dealloc(layout.size());
    // SAFETY: the caller's contract.
    unsafe { inner.dealloc(p, layout) }
}

/// [`over_limit`], for an allocation or reallocation that returns `p`.
#[cold]
#[inline(never)]
pub(crate) fn over_limit_then(p: *mut u8) -> *mut u8 {
    over_limit();
    p
}

/// [`quick_alloc`]'s other cases, out of line: a refused call, or a thread without a slot or
/// whose path is not known. Returns `p`.
#[cold]
#[inline(never)]
pub(crate) fn alloc_rest(p: *mut u8, size: usize) -> *mut u8 {
    if p.is_null() {
        on_failed();
    } else {
        on_alloc(size);
    }
    p
}

/// [`quick_realloc`]'s other cases, out of line: as [`alloc_rest`].
#[cold]
#[inline(never)]
pub(crate) fn realloc_rest(p: *mut u8, old: usize, new: usize) -> *mut u8 {
    if p.is_null() {
        on_failed();
    } else {
        on_realloc(old, new);
    }
    p
}

/// Counts a successful allocation of `size` bytes on this thread's slot.
#[inline(always)]
pub(crate) fn count_alloc(slot: Option<&Slot>, size: usize, solo: bool) {
    let n = size as u64;
    match slot {
        Some(s) => {
            bump(&s.allocs, 1);
            peak::grow(s, solo, n);
        }
        None => {
            peak::without_slot(n, 0, || {
                FALLBACK.allocs.fetch_add(1, Relaxed);
                FALLBACK.bytes_allocated.fetch_add(n, Relaxed);
            });
        }
    }
}

/// Counts a free of `size` bytes.
#[inline(always)]
pub(crate) fn on_dealloc(size: usize) {
    if count_windowed(|h| quick_dealloc(h, size)) {
        return;
    }
    let s = slot();
    let solo = sections::begin(s);
    count_dealloc(s, size, solo);
    sections::end(s, solo);
}

/// Counts a free of `size` bytes on this thread's slot.
#[inline(always)]
pub(crate) fn count_dealloc(slot: Option<&Slot>, size: usize, solo: bool) {
    let n = size as u64;
    match slot {
        Some(s) => {
            bump(&s.deallocs, 1);
            peak::shrink(s, solo, n);
        }
        None => {
            peak::without_slot(0, n, || {
                FALLBACK.deallocs.fetch_add(1, Relaxed);
                FALLBACK.bytes_deallocated.fetch_add(n, Relaxed);
            });
        }
    }
}

/// Counts a successful reallocation from `old` to `new` bytes.
#[inline(always)]
pub(crate) fn on_realloc(old: usize, new: usize) {
    if count_windowed(|h| quick_realloc(h, old, new)) {
        return;
    }
    let s = slot();
    let solo = sections::begin(s);
    count_realloc(s, old, new, solo);
    sections::end(s, solo);
}

/// Counts a successful reallocation on this thread's slot.
#[inline(always)]
pub(crate) fn count_realloc(slot: Option<&Slot>, old: usize, new: usize, solo: bool) {
    let (o, n) = (old as u64, new as u64);
    match slot {
        Some(s) => {
            bump(&s.reallocs, 1);
            peak::resize(s, solo, o, n);
        }
        None => {
            peak::without_slot(n.saturating_sub(o), o.saturating_sub(n), || {
                FALLBACK.reallocs.fetch_add(1, Relaxed);
                FALLBACK.bytes_allocated.fetch_add(n, Relaxed);
                FALLBACK.bytes_deallocated.fetch_add(o, Relaxed);
            });
        }
    }
}

/// Counts a call the inner allocator refused.
#[cold]
pub(crate) fn on_failed() {
    match slot() {
        Some(s) => bump(&s.failed, 1),
        None => {
            FALLBACK.failed.fetch_add(1, Relaxed);
        }
    }
}

/// Every slot ever made (in use or not).
pub(crate) fn slots() -> impl Iterator<Item = &'static Slot> {
    let mut p = SLOTS.load(Acquire) as *const Slot;
    std::iter::from_fn(move || {
        if p.is_null() {
            return None;
        }
        // SAFETY: slots in the list are never freed.
        let s = unsafe { &*p };
        p = s.next;
        Some(s)
    })
}

/// Whole-process totals: every slot plus the fallback counters.
pub(crate) fn totals() -> Stats {
    let (sum, observe_live) = if sections::shared() {
        // Once threads share, the reading is taken with the books settled around it (see
        // `peak::settled`), so that it is of one instant. Refused calls are left out of the
        // comparison: a thread whose every call is refused would change them forever.
        let mut sum = peak::settled(|| Counters {
            failed: 0,
            ..read_counters()
        });
        sum.failed = read_counters().failed;
        (sum, false)
    } else {
        // Every counter only grows, so two equal readings mean that nothing changed in
        // between: the figures of one instant. Threads that keep allocating may prevent that;
        // after a few tries the last reading stands, each figure exact but not all from one
        // instant.
        let mut sum = read_counters();
        let mut consistent = false;
        for _ in 0..8 {
            let again = read_counters();
            if again == sum {
                consistent = true;
                break;
            }
            sum = again;
        }
        (sum, consistent)
    };
    let mut st = sum.since(&Counters::default(), 0);
    if observe_live {
        // The lone writer, half-way through an event, may have counted it before the peak did.
        peak::observe(st.live_bytes);
    }
    st.peak_live_bytes = peak::peak();
    st
}

/// Every slot's counters plus the fallback counters, read one after another.
fn read_counters() -> Counters {
    let mut sum = Counters {
        allocs: FALLBACK.allocs.load(Relaxed),
        deallocs: FALLBACK.deallocs.load(Relaxed),
        reallocs: FALLBACK.reallocs.load(Relaxed),
        bytes_allocated: FALLBACK.bytes_allocated.load(Relaxed),
        bytes_deallocated: FALLBACK.bytes_deallocated.load(Relaxed),
        failed: FALLBACK.failed.load(Relaxed),
    };
    for s in slots() {
        sum.add(&s.snapshot());
    }
    sum
}

/// The calling thread's counters and its peak mark, for `measure`.
pub(crate) struct ThreadMark {
    slot: &'static Slot,
    start: Counters,
    saved_peak: u64,
}

impl ThreadMark {
    /// Starts a measured window on this thread; `None` if the thread has no slot (it is
    /// running thread-local destructors).
    pub(crate) fn start() -> Option<ThreadMark> {
        let slot = slot()?;
        let saved_peak = open_window(slot);
        Some(ThreadMark {
            slot,
            start: slot.snapshot(),
            saved_peak,
        })
    }

    /// Ends the window: the delta, with the window's peak growth of this thread's live bytes.
    pub(crate) fn finish(self) -> Stats {
        let s = self.slot;
        let end = s.snapshot();
        let start_net = self
            .start
            .bytes_allocated
            .wrapping_sub(self.start.bytes_deallocated);
        let peak = s.peak_net.load(Relaxed).wrapping_sub(start_net);
        end.since(&self.start, if (peak as i64) < 0 { 0 } else { peak })
    }
}

impl Drop for ThreadMark {
    /// Closes the window, which gives the enclosing one (an outer `measure` or tracked call)
    /// its mark back; also when the measured closure panics.
    fn drop(&mut self) {
        close_window(self.slot, self.saved_peak);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on_quick_path(s: &Slot) -> bool {
        ptr::eq(head(), &s.head)
    }

    /// Windows nest, and the last one to close gives the allocator path the slot's head back:
    /// a thread that stayed on the general path would count right, only slowly.
    #[test]
    fn the_last_window_closed_puts_the_thread_back_on_the_quick_path() {
        std::thread::spawn(|| {
            let s = slot().expect("a slot");
            assert!(on_quick_path(s));
            let saved = open_window(s);
            assert!(ptr::eq(head(), WINDOWED));
            {
                let mark = ThreadMark::start().expect("a slot");
                assert!(ptr::eq(head(), WINDOWED));
                let _ = mark.finish();
            }
            assert!(ptr::eq(head(), WINDOWED), "an outer window is still open");
            close_window(s, saved);
            assert!(on_quick_path(s));
            // A measured closure that panics closes its window when the mark is dropped.
            let mark = ThreadMark::start().expect("a slot");
            assert!(!on_quick_path(s));
            drop(mark);
            assert!(on_quick_path(s));
        })
        .join()
        .unwrap();
    }
}
