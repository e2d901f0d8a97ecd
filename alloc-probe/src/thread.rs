//! A thread's state: its slot, and the scopes open on it.
//!
//! A slot is everything alloc-probe keeps per thread: its tally (see `counters`), its tracking
//! state and its tracked functions' counts. Slots are mapped, never freed, and reused: a
//! thread that exits hands its slot back without clearing it (the counts are cumulative, and
//! `measure` works on deltas), and the next new thread takes it. Claiming or releasing a slot
//! takes no lock.
//!
//! The allocator path reads one thread-local first: the tally it counts on. That is the
//! slot's, or a sentinel, a tally of no slot whose writer state is never known, which sends
//! every event to the general path: the sentinels say that the thread has no slot yet, is
//! setting one up, has given it back (or found no memory for one), or has a scope open.

use std::alloc::Layout;
use std::cell::{Cell, UnsafeCell};
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering::*};

use crate::counters::{self, solo, Tally};
use crate::sys::pages;
use crate::tracking::functions::FnTable;
use crate::tracking::tracker::Tracker;

/// Everything alloc-probe keeps about one thread. In declaration order (`repr(C)`): the tally
/// first, whose first line is what every allocator event touches.
#[repr(C, align(128))]
pub(crate) struct Slot {
    tally: Tally,
    next: *const Slot,
    /// Only the owner touches it (see [`Slot::tracker`]).
    tracker: UnsafeCell<Tracker>,
    /// The thread's counts of tracked functions (see `tracking::functions`).
    fns: FnTable,
}

// SAFETY: `tally` and `fns` are atomics; `next` is written once before the slot is published;
// `tracker` is only accessed by the thread that owns the slot (see `Slot::tracker`).
unsafe impl Sync for Slot {}

impl Slot {
    #[inline(always)]
    pub(crate) fn tally(&self) -> &Tally {
        &self.tally
    }

    /// This thread's tracking state.
    ///
    /// # Safety
    /// Only the thread owning the slot may call this, and it must not hold two results at
    /// once (the allocator path never re-enters itself, so it cannot).
    #[inline(always)]
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn tracker(&self) -> &mut Tracker {
        // SAFETY: per the contract, this is the only reference.
        unsafe { &mut *self.tracker.get() }
    }

    #[inline(always)]
    pub(crate) fn fns(&self) -> &FnTable {
        &self.fns
    }
}

static SLOTS: AtomicPtr<Slot> = AtomicPtr::new(ptr::null_mut());

/// The sentinels: what a thread without a slot counts on, before it claims one, while it sets
/// one up, and after its thread-local destructors handed it back (or when there was none to
/// map); and what a thread with a slot counts on while a scope is open (see [`Scope`]).
static SENTINELS: [Tally; 4] = [Tally::new(), Tally::new(), Tally::new(), Tally::new()];
const UNCLAIMED: &Tally = &SENTINELS[0];
const SETTING_UP: &Tally = &SENTINELS[1];
const RELEASED: &Tally = &SENTINELS[2];
const SCOPED: &Tally = &SENTINELS[3];

thread_local! {
    /// This thread's slot (as its tally, first in it), or a sentinel other than `SCOPED`.
    /// Const and destructor-free, so readable during thread-local teardown.
    static OWN: Cell<*const Tally> = const { Cell::new(UNCLAIMED) };
    /// The tally the allocator path counts on (see [`tally`]): `OWN`'s, except while a scope
    /// is open, when it is `SCOPED`.
    static COUNTING: Cell<*const Tally> = const { Cell::new(UNCLAIMED) };
    /// How many scopes are open on this thread.
    static SCOPES: Cell<u32> = const { Cell::new(0) };
    /// Hands the slot back when the thread exits.
    static OWNER: SlotOwner = const { SlotOwner };
}

struct SlotOwner;

impl Drop for SlotOwner {
    fn drop(&mut self) {
        let _ = COUNTING.try_with(|c| c.set(RELEASED));
        let _ = OWN.try_with(|o| {
            if let Some(s) = as_slot(o.replace(RELEASED)) {
                let t = &s.tally;
                // SAFETY: the thread's own tracker, outside the allocator path.
                unsafe { s.tracker() }
                    .calls
                    .settle(t.allocated(), t.high_water(), s.fns());
                s.tally.disown();
            }
        });
    }
}

/// The tally this thread's events count on: its slot's, or a sentinel. No test: what the
/// allocator path reads first.
#[inline(always)]
pub(crate) fn tally() -> &'static Tally {
    // SAFETY: `COUNTING` only holds sentinels and slots' tallies, which are never freed.
    unsafe { &*COUNTING.try_with(Cell::get).unwrap_or(RELEASED) }
}

/// Whether a scope is open on this thread, so that its events count on the `SCOPED`
/// sentinel, which sends them to the general path (see [`Scope`]).
#[inline(always)]
pub(crate) fn scoped() -> bool {
    ptr::eq(COUNTING.try_with(Cell::get).unwrap_or(RELEASED), SCOPED)
}

/// `OWN`'s pointer, kept raw: it carries the whole slot's provenance, which a reference to
/// the tally would narrow to the tally.
#[inline(always)]
fn own() -> *const Tally {
    OWN.try_with(Cell::get).unwrap_or(RELEASED)
}

/// Sets this thread's `OWN`, and `COUNTING` with it; `None` if the thread-locals are gone.
fn set_own(t: *const Tally) -> Option<()> {
    OWN.try_with(|o| o.set(t)).ok()?;
    let scoped = SCOPES.try_with(Cell::get).unwrap_or(0) > 0 && as_slot(t).is_some();
    COUNTING
        .try_with(|c| c.set(if scoped { SCOPED } else { t }))
        .ok()
}

/// This thread's slot, claiming one on first use; `None` while setting up or after teardown.
#[inline(always)]
pub(crate) fn slot() -> Option<&'static Slot> {
    let t = own();
    match as_slot(t) {
        None if ptr::eq(t, UNCLAIMED) => claim(),
        s => s,
    }
}

/// This thread's slot if it has one, without claiming one.
#[inline(always)]
pub(crate) fn current() -> Option<&'static Slot> {
    as_slot(own())
}

/// The slot whose tally `t` (an `OWN` value) is, unless `t` is a sentinel.
#[inline(always)]
fn as_slot(t: *const Tally) -> Option<&'static Slot> {
    let offset = (t as usize).wrapping_sub(SENTINELS.as_ptr() as usize);
    // SAFETY: a tally that is not a sentinel is the first field of a `repr(C)` slot, whose
    // address `OWN` was given as a raw pointer with the whole slot's provenance; slots are
    // never freed.
    (offset >= std::mem::size_of_val(&SENTINELS)).then(|| unsafe { &*t.cast::<Slot>() })
}

#[cold]
fn claim() -> Option<&'static Slot> {
    set_own(SETTING_UP)?;
    let slot = reuse().or_else(new_slot);
    match slot {
        Some(s) => {
            solo::on_new_owner(&s.tally);
            let _ = set_own((s as *const Slot).cast::<Tally>());
            // Registers the destructor that hands the slot back; if that allocates, the
            // allocation is counted in the slot we just set.
            let _ = OWNER.try_with(|_| ());
        }
        None => {
            // Out of memory for a slot: stay on the fallback tally.
            let _ = set_own(RELEASED);
        }
    }
    slot
}

/// A slot that an exited thread handed back, now this thread's.
fn reuse() -> Option<&'static Slot> {
    slots().find(|s| s.tally.try_own()).inspect(|s| {
        s.tally.reset_high_water();
        start(s);
    })
}

/// Sets a slot up for the thread that now owns it.
fn start(s: &Slot) {
    // SAFETY: the caller owns the slot, and holds no other reference to its state.
    let gap = unsafe { s.tracker() }.start();
    // SAFETY: as above; the countdown is the owner's.
    unsafe { *s.tally.countdown() = gap };
}

fn new_slot() -> Option<&'static Slot> {
    let layout = Layout::new::<Slot>();
    // Mapped, not taken from `System`'s heap, which is the program's (see `sys::pages`).
    // Built in place: a slot is large (per-thread tables), too large to assemble on a small
    // thread stack.
    let p = pages::map_zeroed(layout.size()).cast::<Slot>();
    if p.is_null() {
        return None;
    }
    // SAFETY: all-zero bytes are a valid slot (atomics, integers, null pointers, 0.0) but for
    // its tally, written here; nobody else sees it until it is published below.
    unsafe { ptr::write(&raw mut (*p).tally, Tally::new()) };
    // SAFETY: still unpublished, so ours alone.
    let s = unsafe { &*p };
    s.tally.own_new();
    start(s);
    counters::publish(&s.tally);
    let mut head = SLOTS.load(Acquire);
    loop {
        // SAFETY: still unpublished on this list, so its `next` is ours alone.
        unsafe { (*p).next = head };
        match SLOTS.compare_exchange_weak(head, p, AcqRel, Acquire) {
            Ok(_) => return Some(s),
            Err(h) => head = h,
        }
    }
}

/// Every slot ever made (owned or not).
pub(crate) fn slots() -> impl Iterator<Item = &'static Slot> {
    let mut p = SLOTS.load(Acquire) as *const Slot;
    std::iter::from_fn(move || {
        // SAFETY: slots on the list are never freed.
        let s = unsafe { p.as_ref()? };
        p = s.next;
        Some(s)
    })
}

/// A scope open on this thread: a `measure` closure or a tracked call, which want the thread's
/// high-water of live bytes. Until the last scope closes, the allocator path counts on the
/// `SCOPED` sentinel, whose unknown writer state sends every event to the general path, which
/// counts it on the slot's tally and raises the high-water (see `alloc::counts`): the quick
/// path does not, so that the high-water costs nothing while no scope is open. Scopes nest;
/// closed when dropped.
pub(crate) struct Scope {
    slot: &'static Slot,
    /// The enclosing scope's high-water.
    saved: u64,
}

impl Scope {
    /// Opens a scope on this thread, whose slot is `slot`.
    pub(crate) fn open(slot: &'static Slot) -> Scope {
        let saved = slot.tally.start_high_water();
        let _ = SCOPES.try_with(|n| {
            let open = n.get();
            n.set(open.saturating_add(1));
            if open == 0 && as_slot(own()).is_some() {
                let _ = COUNTING.try_with(|c| c.set(SCOPED));
            }
        });
        Scope { slot, saved }
    }

    /// The slot's high-water since the scope opened.
    pub(crate) fn high_water(&self) -> u64 {
        self.slot.tally.high_water()
    }

    /// Hands the scope's closing to a tracked call's frame, which keeps what this returns
    /// until [`Scope::resume`] (the frame is closed by the tracked call's own guard).
    pub(crate) fn into_saved(self) -> u64 {
        std::mem::ManuallyDrop::new(self).saved
    }

    /// The scope a tracked call's frame kept as [`Scope::into_saved`]'s `saved`, on `slot`.
    pub(crate) fn resume(slot: &'static Slot, saved: u64) -> Scope {
        Scope { slot, saved }
    }
}

impl Drop for Scope {
    /// Gives the enclosing scope its high-water back (the higher of the two). The last scope
    /// gives the allocator path the slot's tally back (or the sentinel `OWN` now holds, if the
    /// slot was handed back meanwhile).
    fn drop(&mut self) {
        self.slot.tally.end_high_water(self.saved);
        let _ = SCOPES.try_with(|n| {
            let open = n.get().saturating_sub(1);
            n.set(open);
            if open == 0 {
                let _ = COUNTING.try_with(|c| c.set(own()));
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on_quick_path(s: &Slot) -> bool {
        ptr::eq(tally(), &s.tally)
    }

    /// Scopes nest, and the last one to close gives the allocator path the slot's tally back:
    /// a thread that stayed on the general path would count right, only slowly.
    #[test]
    fn the_last_scope_closed_puts_the_thread_back_on_the_quick_path() {
        std::thread::spawn(|| {
            let s = slot().expect("a slot");
            assert!(on_quick_path(s));
            let outer = Scope::open(s);
            assert!(ptr::eq(tally(), SCOPED));
            {
                let _inner = Scope::open(s);
                assert!(ptr::eq(tally(), SCOPED));
            }
            assert!(ptr::eq(tally(), SCOPED), "an outer scope is still open");
            drop(outer);
            assert!(on_quick_path(s));
        })
        .join()
        .unwrap();
    }
}
