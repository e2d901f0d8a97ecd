//! [`Probe`]: the global allocator wrapper.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicPtr, Ordering::*};

use crate::config::{self, Mode, COUNTS, FULL, SAMPLED};
use crate::tally::{self, Quick};
use crate::{blocks, sampled};

/// A global allocator that counts every allocation and forwards it to an inner allocator.
///
/// ```
/// #[global_allocator]
/// static ALLOC: alloc_probe::Probe = alloc_probe::Probe::system();
/// # fn main() {}
/// ```
///
/// The allocator path never panics, never takes a lock held across an allocation, and never
/// allocates through the global allocator. A call the inner allocator refuses returns null,
/// as it would have without us, and counts in [`Stats::failed`](crate::Stats::failed).
///
/// In the `full` mode each block carries a 16-byte header in front of it (see the crate docs).
/// In the `counts` mode blocks are passed through untouched, and in `sampled` mode all but
/// the sampled ones: a sampled block aligned to at most 8 sits 8 bytes into an inner block 8
/// bytes larger, aligned to 16, so that a free can tell it from the others by its address
/// (its facts are kept aside).
pub struct Probe<A: GlobalAlloc = System> {
    inner: A,
    defaults: Defaults,
    /// Where each method goes: the mode's own function once the mode is known, `first_*`
    /// before. One indirect jump through the user's own static, instead of a test per mode
    /// (and a test for "not known yet") on every call.
    entries: Entries,
}

/// The entry points of the four `GlobalAlloc` methods, each stored as the function pointer
/// type named on it, cast to a raw pointer (function pointers have no atomic type).
struct Entries {
    /// [`AllocFn`]
    alloc: AtomicPtr<()>,
    /// [`AllocFn`]
    alloc_zeroed: AtomicPtr<()>,
    /// [`DeallocFn`]
    dealloc: AtomicPtr<()>,
    /// [`ReallocFn`]
    realloc: AtomicPtr<()>,
}

// The entries take the layout as its size and alignment, and the probe last: the arguments of
// `__rust_alloc` and its kin, in their registers, so that those only add the probe's address.
type AllocFn<A> = unsafe fn(usize, usize, &Probe<A>) -> *mut u8;
type DeallocFn<A> = unsafe fn(*mut u8, usize, usize, &Probe<A>);
type ReallocFn<A> = unsafe fn(*mut u8, usize, usize, usize, &Probe<A>) -> *mut u8;

/// The settings a `Probe` was built with; the environment overrides them.
#[derive(Clone, Copy)]
pub(crate) struct Defaults {
    pub mode: Mode,
    pub sample_rate: u64,
    /// The inner allocator's type name, to tell whether jemalloc's figures are ours.
    pub inner_name: fn() -> &'static str,
}

impl Probe<System> {
    /// A probe around [`std::alloc::System`], in `full` mode unless `ALLOC_PROBE_MODE` says
    /// otherwise.
    pub const fn system() -> Probe<System> {
        Probe::new(System)
    }
}

impl<A: GlobalAlloc> Probe<A> {
    /// A probe around any allocator, e.g. `Probe::new(alloc_probe::Jemalloc)`.
    pub const fn new(inner: A) -> Probe<A> {
        Probe {
            inner,
            defaults: Defaults {
                mode: Mode::Full,
                sample_rate: 512 * 1024,
                inner_name: std::any::type_name::<A>,
            },
            entries: Entries {
                alloc: AtomicPtr::new(Self::first_alloc as AllocFn<A> as *mut ()),
                alloc_zeroed: AtomicPtr::new(Self::first_alloc_zeroed as AllocFn<A> as *mut ()),
                dealloc: AtomicPtr::new(Self::first_dealloc as DeallocFn<A> as *mut ()),
                realloc: AtomicPtr::new(Self::first_realloc as ReallocFn<A> as *mut ()),
            },
        }
    }

    /// The same probe with another default mode; `ALLOC_PROBE_MODE` still overrides it.
    ///
    /// ```
    /// #[global_allocator]
    /// static ALLOC: alloc_probe::Probe =
    ///     alloc_probe::Probe::system().with_mode(alloc_probe::Mode::Counts);
    /// # fn main() {}
    /// ```
    pub const fn with_mode(mut self, mode: Mode) -> Probe<A> {
        self.defaults.mode = mode;
        self
    }

    /// The same probe with another mean number of bytes between samples in `sampled` mode
    /// (default 524288, like Go); `ALLOC_PROBE_SAMPLE_RATE` still overrides it.
    pub const fn with_sample_rate(mut self, bytes: u64) -> Probe<A> {
        self.defaults.sample_rate = if bytes == 0 { 1 } else { bytes };
        self
    }

    /// The wrapped allocator.
    pub const fn inner(&self) -> &A {
        &self.inner
    }

    /// Reads the settings, on the first call, and points every method at its mode's function.
    /// Threads racing here compute the same mode and store the same entries. Released, and
    /// acquired by every call: a thread whose first call finds another thread's entry also
    /// sees the mode and `tally::INSTALLED` set before it (free on x86, where every load
    /// acquires).
    #[cold]
    #[inline(never)]
    fn first_mode(&self) {
        let m = config::mode_code(self.defaults);
        tally::on_installed();
        let e = &self.entries;
        let (alloc, zeroed, dealloc, realloc): (
            AllocFn<A>,
            AllocFn<A>,
            DeallocFn<A>,
            ReallocFn<A>,
        ) = match m {
            COUNTS => (
                Self::alloc_by::<COUNTS, false>,
                Self::alloc_by::<COUNTS, true>,
                Self::dealloc_by::<COUNTS>,
                Self::realloc_by::<COUNTS>,
            ),
            SAMPLED => (
                Self::alloc_by::<SAMPLED, false>,
                Self::alloc_by::<SAMPLED, true>,
                Self::dealloc_by::<SAMPLED>,
                Self::realloc_by::<SAMPLED>,
            ),
            _ => (
                Self::alloc_by::<FULL, false>,
                Self::alloc_by::<FULL, true>,
                Self::dealloc_by::<FULL>,
                Self::realloc_by::<FULL>,
            ),
        };
        e.alloc.store(alloc as *mut (), Release);
        e.alloc_zeroed.store(zeroed as *mut (), Release);
        e.dealloc.store(dealloc as *mut (), Release);
        e.realloc.store(realloc as *mut (), Release);
    }

    // The first call of each method: reads the mode, which points the entries at its
    // functions, then makes the call again through its entry. Contracts: the methods'.

    unsafe fn first_alloc(size: usize, align: usize, p: &Self) -> *mut u8 {
        p.first_mode();
        // SAFETY: the caller's contract, passed on.
        unsafe { GlobalAlloc::alloc(p, layout(size, align)) }
    }

    unsafe fn first_alloc_zeroed(size: usize, align: usize, p: &Self) -> *mut u8 {
        p.first_mode();
        // SAFETY: the caller's contract, passed on.
        unsafe { GlobalAlloc::alloc_zeroed(p, layout(size, align)) }
    }

    unsafe fn first_dealloc(ptr: *mut u8, size: usize, align: usize, p: &Self) {
        p.first_mode();
        // SAFETY: the caller's contract, passed on.
        unsafe { GlobalAlloc::dealloc(p, ptr, layout(size, align)) }
    }

    unsafe fn first_realloc(
        ptr: *mut u8,
        size: usize,
        align: usize,
        new: usize,
        p: &Self,
    ) -> *mut u8 {
        p.first_mode();
        // SAFETY: the caller's contract, passed on.
        unsafe { GlobalAlloc::realloc(p, ptr, layout(size, align), new) }
    }

    // Each mode's functions, to which `entries` point. Contracts: the methods'.

    unsafe fn alloc_by<const M: u8, const ZEROED: bool>(
        size: usize,
        align: usize,
        p: &Self,
    ) -> *mut u8 {
        if align > INLINE_ALIGN {
            // SAFETY: the caller's contract, passed on.
            return unsafe { Self::alloc_aligned::<M, ZEROED>(size, align, p) };
        }
        // SAFETY: the caller's contract, passed on.
        unsafe { p.alloc_in(M, layout(size, align), ZEROED) }
    }

    /// [`Self::alloc_by`] of an over-aligned block, out of line.
    #[cold]
    #[inline(never)]
    unsafe fn alloc_aligned<const M: u8, const ZEROED: bool>(
        size: usize,
        align: usize,
        p: &Self,
    ) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        unsafe { p.alloc_in(M, layout(size, align), ZEROED) }
    }

    unsafe fn dealloc_by<const M: u8>(ptr: *mut u8, size: usize, align: usize, p: &Self) {
        // SAFETY: the caller's contract, passed on.
        unsafe { p.dealloc_in(M, ptr, layout(size, align)) }
    }

    unsafe fn realloc_by<const M: u8>(
        ptr: *mut u8,
        size: usize,
        align: usize,
        new: usize,
        p: &Self,
    ) -> *mut u8 {
        if align > INLINE_ALIGN {
            // SAFETY: the caller's contract, passed on.
            return unsafe { Self::realloc_aligned::<M>(ptr, size, align, new, p) };
        }
        // SAFETY: the caller's contract, passed on.
        unsafe { p.realloc_in(M, ptr, layout(size, align), new) }
    }

    /// [`Self::realloc_by`] of an over-aligned block, out of line.
    #[cold]
    #[inline(never)]
    unsafe fn realloc_aligned<const M: u8>(
        ptr: *mut u8,
        size: usize,
        align: usize,
        new: usize,
        p: &Self,
    ) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        unsafe { p.realloc_in(M, ptr, layout(size, align), new) }
    }

    #[inline(always)]
    unsafe fn counted_alloc(&self, layout: Layout, zeroed: bool) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which we pass on.
        let p = unsafe { inner_alloc(&self.inner, layout, zeroed) };
        // No `guard::ignoring()` test: the guard is never raised in `counts` mode.
        if p.is_null() {
            return tally::alloc_rest(p, layout.size());
        }
        tally::alloc_counted(tally::head(), p, layout.size())
    }
}

/// The largest alignment the methods handle inline. Blocks aligned to more are rare, and go
/// out of line: then the inner allocator's own test for over-alignment (System and jemalloc
/// compare with 16) folds into this one, and sampled mode's test of a free's alignment too.
const INLINE_ALIGN: usize = 8;

/// The layout the caller's size and alignment came from.
///
/// # Safety
/// They came from a `Layout` (every entry's caller split one).
#[inline(always)]
unsafe fn layout(size: usize, align: usize) -> Layout {
    // SAFETY: the caller's contract.
    unsafe { Layout::from_size_align_unchecked(size, align) }
}

/// `inner.alloc` or `inner.alloc_zeroed`: every path asks the inner allocator this way.
///
/// # Safety
/// `GlobalAlloc::alloc`'s contract: `layout` has a non-zero size.
#[inline(always)]
pub(crate) unsafe fn inner_alloc<A: GlobalAlloc>(
    inner: &A,
    layout: Layout,
    zeroed: bool,
) -> *mut u8 {
    // SAFETY: the caller's contract, passed on.
    unsafe {
        if zeroed {
            inner.alloc_zeroed(layout)
        } else {
            inner.alloc(layout)
        }
    }
}

// SAFETY: in the `counts` and `sampled` modes every method forwards to the inner allocator with
// the caller's arguments; in `full` mode `blocks` asks the inner allocator for 16 more bytes (same
// alignment, at least 8) and hands out the part after the header, which has the caller's size
// and alignment, and gives the inner block back whole. Either way the memory handed out is
// exactly what the caller asked for.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Probe<A> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: `entries.alloc` only ever holds an `AllocFn<A>`; the caller's contract is
        // passed on.
        unsafe {
            let f: AllocFn<A> = std::mem::transmute(self.entries.alloc.load(Acquire));
            f(layout.size(), layout.align(), self)
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as in `alloc`.
        unsafe {
            let f: AllocFn<A> = std::mem::transmute(self.entries.alloc_zeroed.load(Acquire));
            f(layout.size(), layout.align(), self)
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `entries.dealloc` only ever holds a `DeallocFn<A>`; the caller's contract is
        // passed on.
        unsafe {
            let f: DeallocFn<A> = std::mem::transmute(self.entries.dealloc.load(Acquire));
            f(ptr, layout.size(), layout.align(), self)
        }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `entries.realloc` only ever holds a `ReallocFn<A>`; the caller's contract is
        // passed on.
        unsafe {
            let f: ReallocFn<A> = std::mem::transmute(self.entries.realloc.load(Acquire));
            f(ptr, layout.size(), layout.align(), new_size, self)
        }
    }
}

// The methods by mode. Each has the contract of the `GlobalAlloc` method of its name, and
// passes it on; `ptr` came from the same mode's allocation, as the mode is fixed.
impl<A: GlobalAlloc> Probe<A> {
    #[inline(always)]
    unsafe fn alloc_in(&self, mode: u8, layout: Layout, zeroed: bool) -> *mut u8 {
        // SAFETY: the contract, passed on.
        unsafe {
            match mode {
                COUNTS => self.counted_alloc(layout, zeroed),
                SAMPLED => sampled::alloc(&self.inner, layout, zeroed),
                _ => blocks::alloc(&self.inner, layout, zeroed),
            }
        }
    }

    #[inline(always)]
    unsafe fn dealloc_in(&self, mode: u8, ptr: *mut u8, layout: Layout) {
        // SAFETY: the contract, passed on.
        unsafe {
            match mode {
                COUNTS => self.counted_dealloc(ptr, layout),
                SAMPLED => sampled::dealloc(&self.inner, ptr, layout),
                _ => blocks::dealloc(&self.inner, ptr, layout),
            }
        }
    }

    #[inline(always)]
    unsafe fn realloc_in(&self, mode: u8, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        // SAFETY: the contract, passed on.
        unsafe {
            match mode {
                COUNTS => self.counted_realloc(ptr, layout, new),
                SAMPLED => sampled::realloc(&self.inner, ptr, layout, new),
                _ => blocks::realloc(&self.inner, ptr, layout, new),
            }
        }
    }

    #[inline(always)]
    unsafe fn counted_dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY (each case): `ptr` came from this allocator, hence from `inner`, with this
        // layout.
        unsafe {
            match tally::quick(|s| tally::quick_dealloc(s, layout.size())) {
                Quick::Counted => self.inner.dealloc(ptr, layout),
                Quick::PastLimit => tally::over_limit_then_free(&self.inner, ptr, layout),
                Quick::NotCounted => tally::dealloc_rest(&self.inner, ptr, layout),
            }
        }
    }

    #[inline(always)]
    unsafe fn counted_realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        // SAFETY: as for `dealloc`, plus the caller's guarantees on `new`.
        let p = unsafe { self.inner.realloc(ptr, layout, new) };
        if p.is_null() {
            return tally::realloc_rest(p, layout.size(), new);
        }
        tally::realloc_counted(tally::head(), p, layout.size(), new)
    }
}
