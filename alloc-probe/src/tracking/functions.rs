//! Tracked functions: the static facts `#[track_allocs]` emits for each, a registry that
//! gives each a dense index on its first call, and their counts.
//!
//! The first [`LOCAL_FNS`] indexes are counted per thread, in the thread's slot, with plain
//! loads and stores; later ones, and calls on a thread without a slot, in shared counts.
//! Reports sum both, so no count is lost and a call on the hot path never touches a shared
//! cache line.

use std::sync::atomic::{AtomicPtr, AtomicU32, Ordering::*};

use crate::counters::{Access, Counter};

/// A source expression the macro found in a tracked body that may allocate.
#[derive(Debug)]
pub struct SourceSite {
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// The expression's source text, as written (whitespace normalised by the macro).
    pub expr: &'static str,
    /// What kind of allocation it may make, e.g. `"Box::new"`, `"vec!"`, `"format!"`, `"clone"`.
    pub kind: &'static str,
}

/// Static facts about one tracked function, emitted by the macro as a `static`.
pub struct FnInfo {
    /// The report name: the `name = "..."` option, or the function's identifier.
    pub name: &'static str,
    /// Returns `core::any::type_name` of an item nested in the function, whose path names the
    /// function fully (`crate::module::Type::method::__alloc_probe_here`).
    pub path: fn() -> &'static str,
    /// `file!()` of the function.
    pub file: &'static str,
    /// `line!()` of the function's signature.
    pub line: u32,
    /// The possibly-allocating expressions the macro found in the body.
    pub sites: &'static [SourceSite],
    /// Per-call budget on allocation events (allocs + reallocs), callees included.
    pub max_allocs: Option<u64>,
    /// Per-call budget on bytes allocated, callees included.
    pub max_bytes: Option<u64>,
    /// Whether a call over budget panics (the macro passes `cfg!(debug_assertions)` unless
    /// told otherwise).
    pub enforce: bool,
}

impl FnInfo {
    /// Whether calls have a budget.
    pub(crate) fn budgeted(&self) -> bool {
        self.max_allocs.is_some() || self.max_bytes.is_some()
    }
}

/// Functions counted per thread.
pub(crate) const LOCAL_FNS: usize = 128;
/// Most tracked functions in a process.
pub(crate) const MAX_FNS: usize = 4096;
/// Positions in the registry's hash table.
const KEYS: usize = MAX_FNS * 2;

/// A tracked function's figures: one call's or a sum over threads ([`Figures`], of `u64`s), or
/// the counts a thread adds them to ([`FnCounts`], of [`Counter`]s).
#[derive(Default, Clone, Copy, Debug)]
pub(crate) struct FnFigures<T> {
    pub calls: T,
    /// Exclusive: allocations made while this function was the innermost tracked call.
    pub allocs: T,
    pub reallocs: T,
    pub bytes: T,
    /// Inclusive: callees too.
    pub incl_allocs: T,
    pub incl_reallocs: T,
    pub incl_bytes: T,
    /// Clock ticks spent in the timed calls (inclusive), and how many calls were timed.
    pub ticks: T,
    pub timed: T,
    /// Blocks freed while the call that allocated them was running (weighted as program
    /// points' are), and of those the never grown ones within the stack limit. Added per
    /// block, by [`FnCounts::add_class`].
    pub non_escaping: T,
    pub stack_avoidable: T,
    /// Of `calls`, those counted before they returned: running when a report was made, or
    /// when their thread ended without returning from them (at `process::exit`).
    pub in_flight: T,
    /// The most bytes live at once within one call (the thread's own net growth): a maximum,
    /// where the others are sums.
    pub max_live: T,
}

impl<T> FnFigures<T> {
    /// The figures that add up: all but `max_live`.
    fn sums(&self) -> [&T; 12] {
        [
            &self.calls,
            &self.allocs,
            &self.reallocs,
            &self.bytes,
            &self.incl_allocs,
            &self.incl_reallocs,
            &self.incl_bytes,
            &self.ticks,
            &self.timed,
            &self.non_escaping,
            &self.stack_avoidable,
            &self.in_flight,
        ]
    }

    fn sums_mut(&mut self) -> [&mut T; 12] {
        [
            &mut self.calls,
            &mut self.allocs,
            &mut self.reallocs,
            &mut self.bytes,
            &mut self.incl_allocs,
            &mut self.incl_reallocs,
            &mut self.incl_bytes,
            &mut self.ticks,
            &mut self.timed,
            &mut self.non_escaping,
            &mut self.stack_avoidable,
            &mut self.in_flight,
        ]
    }
}

/// A function's figures as numbers.
pub(crate) type Figures = FnFigures<u64>;

impl Figures {
    /// Adds `o`'s figures (the higher `max_live`).
    pub(crate) fn add(&mut self, o: &Figures) {
        for (v, o) in self.sums_mut().into_iter().zip(o.sums()) {
            *v += o;
        }
        self.max_live = self.max_live.max(o.max_live);
    }
}

/// A function's counts on one thread, or shared.
pub(crate) type FnCounts = FnFigures<Counter>;

/// A thread's counts of the first [`LOCAL_FNS`] functions.
pub(crate) type FnTable = [FnCounts; LOCAL_FNS];

impl FnCounts {
    const fn new() -> FnCounts {
        FnFigures {
            calls: Counter::new(0),
            allocs: Counter::new(0),
            reallocs: Counter::new(0),
            bytes: Counter::new(0),
            incl_allocs: Counter::new(0),
            incl_reallocs: Counter::new(0),
            incl_bytes: Counter::new(0),
            ticks: Counter::new(0),
            timed: Counter::new(0),
            non_escaping: Counter::new(0),
            stack_avoidable: Counter::new(0),
            in_flight: Counter::new(0),
            max_live: Counter::new(0),
        }
    }

    /// Adds a call's figures.
    #[inline]
    pub(crate) fn add(&self, f: &Figures, a: Access) {
        for (c, &v) in self.sums().into_iter().zip(f.sums()) {
            if v != 0 {
                c.add(v, a);
            }
        }
        self.max_live.raise(f.max_live, a);
    }

    /// Counts a call that allocated nothing and was not timed.
    #[inline]
    pub(crate) fn add_call(&self, a: Access) {
        self.calls.add(1, a);
    }

    /// Adds a freed block's class: non-escaping, and `small` (stack-avoidable) or not.
    #[inline]
    pub(crate) fn add_class(&self, w: u64, small: bool, a: Access) {
        self.non_escaping.add(w, a);
        if small {
            self.stack_avoidable.add(w, a);
        }
    }

    fn sum_into(&self, into: &mut Figures) {
        for (v, c) in into.sums_mut().into_iter().zip(self.sums()) {
            *v += c.get();
        }
        into.max_live = into.max_live.max(self.max_live.get());
    }
}

struct Registry {
    keys: [AtomicPtr<FnInfo>; KEYS],
    index: [AtomicU32; KEYS],
    infos: [AtomicPtr<FnInfo>; MAX_FNS],
    count: AtomicU32,
}

static REGISTRY: Registry = Registry {
    keys: [const { AtomicPtr::new(std::ptr::null_mut()) }; KEYS],
    index: [const { AtomicU32::new(0) }; KEYS],
    infos: [const { AtomicPtr::new(std::ptr::null_mut()) }; MAX_FNS],
    count: AtomicU32::new(0),
};

/// What the registry's `index` holds for a function past [`MAX_FNS`].
const NONE: u32 = u32::MAX;

/// The counts of every function on threads without a slot, and of every function past
/// [`LOCAL_FNS`].
static SHARED: [FnCounts; MAX_FNS] = [const { FnCounts::new() }; MAX_FNS];

/// The dense index of a function, registering it on first use; `None` past [`MAX_FNS`].
#[inline]
pub(crate) fn index(info: &'static FnInfo) -> Option<u32> {
    let key = info as *const FnInfo as *mut FnInfo;
    let mut pos = ((key as usize) >> 3).wrapping_mul(0x9E37_79B9) % KEYS;
    loop {
        let k = REGISTRY.keys[pos].load(Acquire);
        if k == key {
            // Wait for the registering thread to publish the index (a few instructions).
            loop {
                match REGISTRY.index[pos].load(Acquire) {
                    0 => std::hint::spin_loop(),
                    NONE => return None,
                    i => return Some(i - 1),
                }
            }
        }
        if k.is_null() {
            match REGISTRY.keys[pos].compare_exchange(std::ptr::null_mut(), key, AcqRel, Acquire) {
                Ok(_) => {
                    let i = REGISTRY.count.fetch_add(1, AcqRel);
                    if i as usize >= MAX_FNS {
                        REGISTRY.index[pos].store(NONE, Release);
                        return None;
                    }
                    REGISTRY.infos[i as usize].store(key, Release);
                    REGISTRY.index[pos].store(i + 1, Release);
                    return Some(i);
                }
                Err(_) => continue, // someone took the position: look at it again
            }
        }
        pos = (pos + 1) % KEYS;
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

/// The counts to add function `i`'s figures to, on a thread with table `local`, and how: the
/// thread's own table plainly, the shared counts with locked instructions.
#[inline]
pub(crate) fn counts_of(local: &FnTable, i: u32) -> (&FnCounts, Access) {
    match local.get(i as usize) {
        Some(c) => (c, Access::Solo),
        None => (&SHARED[i as usize], Access::Shared),
    }
}

/// Sums function `i` over the shared counts and the given per-thread tables.
pub(crate) fn totals<'a>(i: u32, tables: impl Iterator<Item = &'a FnTable>) -> Figures {
    let mut t = Figures::default();
    SHARED[i as usize].sum_into(&mut t);
    if (i as usize) < LOCAL_FNS {
        for table in tables {
            table[i as usize].sum_into(&mut t);
        }
    }
    t
}
