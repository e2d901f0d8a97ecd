//! Per-function tallies for tracked calls.
//!
//! A function gets a dense index the first time it is called (a lock-free registry keyed by
//! its `FnInfo` address). The first `LOCAL_FNS` indexes are tallied per thread, in the
//! thread's slot, with plain loads and stores; later ones go to shared atomics. Reports sum
//! both, so no count is lost and a call on the hot path never touches a shared cache line.

use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering::*};

use crate::scope::FnInfo;

/// Functions tallied per thread.
pub(crate) const LOCAL_FNS: usize = 128;
/// Most tracked functions in a process.
pub(crate) const MAX_FNS: usize = 4096;
const SLOTS: usize = MAX_FNS * 2;

/// The counters of one function, on one thread or shared.
#[derive(Default)]
pub(crate) struct Tally {
    pub calls: AtomicU64,
    /// Exclusive: allocations made while this function was the innermost tracked call.
    pub allocs: AtomicU64,
    pub reallocs: AtomicU64,
    pub bytes: AtomicU64,
    /// Inclusive: callees too.
    pub incl_allocs: AtomicU64,
    pub incl_reallocs: AtomicU64,
    pub incl_bytes: AtomicU64,
    /// Clock ticks spent in the timed calls (inclusive), and how many calls were timed.
    pub ticks: AtomicU64,
    pub timed: AtomicU64,
    /// The most bytes live at once within one call (the thread's own net growth).
    pub max_live: AtomicU64,
    /// Blocks freed while the call that allocated them was running (weighted as in `sites`),
    /// and of those the never grown ones within the stack limit.
    pub non_escaping: AtomicU64,
    pub stack_avoidable: AtomicU64,
}

/// A function's figures: one call's (added to a tally; the classes are added per block by
/// `add_class`), or a sum over threads.
#[derive(Default, Clone, Copy, Debug)]
pub(crate) struct Figures {
    pub calls: u64,
    pub allocs: u64,
    pub reallocs: u64,
    pub bytes: u64,
    pub incl_allocs: u64,
    pub incl_reallocs: u64,
    pub incl_bytes: u64,
    pub ticks: u64,
    pub timed: u64,
    pub max_live: u64,
    pub non_escaping: u64,
    pub stack_avoidable: u64,
}

impl Tally {
    /// Adds figures; `owned` tallies are written by one thread only and need no locked
    /// instruction.
    #[inline]
    pub(crate) fn add(&self, f: &Figures, owned: bool) {
        let add = |a: &AtomicU64, n: u64| {
            if n == 0 {
            } else if owned {
                a.store(a.load(Relaxed).wrapping_add(n), Relaxed);
            } else {
                a.fetch_add(n, Relaxed);
            }
        };
        add(&self.calls, f.calls);
        add(&self.allocs, f.allocs);
        add(&self.reallocs, f.reallocs);
        add(&self.bytes, f.bytes);
        add(&self.incl_allocs, f.incl_allocs);
        add(&self.incl_reallocs, f.incl_reallocs);
        add(&self.incl_bytes, f.incl_bytes);
        add(&self.ticks, f.ticks);
        add(&self.timed, f.timed);
        if f.max_live > self.max_live.load(Relaxed) {
            if owned {
                self.max_live.store(f.max_live, Relaxed);
            } else {
                self.max_live.fetch_max(f.max_live, Relaxed);
            }
        }
    }

    /// Counts a call that allocated nothing and was not timed.
    #[inline]
    pub(crate) fn add_call(&self, owned: bool) {
        if owned {
            self.calls
                .store(self.calls.load(Relaxed).wrapping_add(1), Relaxed);
        } else {
            self.calls.fetch_add(1, Relaxed);
        }
    }

    /// Adds a freed block's class.
    #[inline]
    pub(crate) fn add_class(&self, w: u64, small: bool, owned: bool) {
        let add = |a: &AtomicU64| {
            if owned {
                a.store(a.load(Relaxed).wrapping_add(w), Relaxed);
            } else {
                a.fetch_add(w, Relaxed);
            }
        };
        add(&self.non_escaping);
        if small {
            add(&self.stack_avoidable);
        }
    }

    pub(crate) fn sum_into(&self, into: &mut Figures) {
        let l = |a: &AtomicU64| a.load(Relaxed);
        into.calls += l(&self.calls);
        into.allocs += l(&self.allocs);
        into.reallocs += l(&self.reallocs);
        into.bytes += l(&self.bytes);
        into.incl_allocs += l(&self.incl_allocs);
        into.incl_reallocs += l(&self.incl_reallocs);
        into.incl_bytes += l(&self.incl_bytes);
        into.ticks += l(&self.ticks);
        into.timed += l(&self.timed);
        into.max_live = into.max_live.max(l(&self.max_live));
        into.non_escaping += l(&self.non_escaping);
        into.stack_avoidable += l(&self.stack_avoidable);
    }
}

struct Registry {
    keys: [AtomicPtr<FnInfo>; SLOTS],
    index: [AtomicU32; SLOTS],
    infos: [AtomicPtr<FnInfo>; MAX_FNS],
    count: AtomicU32,
}

#[allow(clippy::declare_interior_mutable_const)]
const NULL_INFO: AtomicPtr<FnInfo> = AtomicPtr::new(std::ptr::null_mut());
#[allow(clippy::declare_interior_mutable_const)]
const ZERO: AtomicU32 = AtomicU32::new(0);
#[allow(clippy::declare_interior_mutable_const)]
const EMPTY_TALLY: Tally = Tally {
    calls: AtomicU64::new(0),
    allocs: AtomicU64::new(0),
    reallocs: AtomicU64::new(0),
    bytes: AtomicU64::new(0),
    incl_allocs: AtomicU64::new(0),
    incl_reallocs: AtomicU64::new(0),
    incl_bytes: AtomicU64::new(0),
    ticks: AtomicU64::new(0),
    timed: AtomicU64::new(0),
    max_live: AtomicU64::new(0),
    non_escaping: AtomicU64::new(0),
    stack_avoidable: AtomicU64::new(0),
};

static REGISTRY: Registry = Registry {
    keys: [NULL_INFO; SLOTS],
    index: [ZERO; SLOTS],
    infos: [NULL_INFO; MAX_FNS],
    count: AtomicU32::new(0),
};

/// Shared tallies: all functions on threads without a slot, and every function past
/// `LOCAL_FNS`.
static SHARED: [Tally; MAX_FNS] = [EMPTY_TALLY; MAX_FNS];

/// The dense index of a function, registering it on first use; `None` past `MAX_FNS`.
#[inline]
pub(crate) fn index(info: &'static FnInfo) -> Option<u32> {
    let key = info as *const FnInfo as *mut FnInfo;
    let mut slot = ((key as usize) >> 3).wrapping_mul(0x9E37_79B9) % SLOTS;
    loop {
        let k = REGISTRY.keys[slot].load(Acquire);
        if k == key {
            // Wait for the registering thread to publish the index (a few instructions).
            loop {
                let i = REGISTRY.index[slot].load(Acquire);
                if i != 0 {
                    return Some(i - 1);
                }
                std::hint::spin_loop();
            }
        }
        if k.is_null() {
            match REGISTRY.keys[slot].compare_exchange(std::ptr::null_mut(), key, AcqRel, Acquire) {
                Ok(_) => {
                    let i = REGISTRY.count.fetch_add(1, AcqRel);
                    if i as usize >= MAX_FNS {
                        REGISTRY.index[slot].store(u32::MAX, Release);
                        return None;
                    }
                    REGISTRY.infos[i as usize].store(key, Release);
                    REGISTRY.index[slot].store(i + 1, Release);
                    return Some(i);
                }
                Err(_) => continue, // someone took the slot: look at it again
            }
        }
        slot = (slot + 1) % SLOTS;
    }
}

/// The registered function with this index.
pub(crate) fn info(i: u32) -> Option<&'static FnInfo> {
    let p = REGISTRY.infos.get(i as usize)?.load(Acquire);
    // SAFETY: registered pointers come from `&'static FnInfo`.
    (!p.is_null()).then(|| unsafe { &*p })
}

/// How many functions are registered.
pub(crate) fn count() -> u32 {
    REGISTRY.count.load(Acquire).min(MAX_FNS as u32)
}

/// The tally to write for function `i` on a thread with table `local` (if any).
#[inline]
pub(crate) fn tally(local: Option<&[Tally; LOCAL_FNS]>, i: u32) -> (&Tally, bool) {
    match local {
        Some(t) if (i as usize) < LOCAL_FNS => (&t[i as usize], true),
        _ => (&SHARED[i as usize], false),
    }
}

/// Sums function `i` over the shared tallies and the given per-thread tables.
pub(crate) fn totals<'a>(i: u32, tables: impl Iterator<Item = &'a [Tally; LOCAL_FNS]>) -> Figures {
    let mut t = Figures::default();
    SHARED[i as usize].sum_into(&mut t);
    if (i as usize) < LOCAL_FNS {
        for table in tables {
            table[i as usize].sum_into(&mut t);
        }
    }
    t
}
