//! [`Probe`]: the global allocator wrapper.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU8, Ordering::Relaxed};

use crate::config::{self, Mode, COUNTS, SAMPLED, UNSET};
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
/// In the `full` mode each block carries a 16-byte header in front of it (see the crate docs);
/// in the `counts` and `sampled` modes blocks are passed through untouched (a sampled block's
/// facts are kept aside).
pub struct Probe<A: GlobalAlloc = System> {
    inner: A,
    defaults: Defaults,
    /// The mode code in force, once known: a copy of `config`'s, read from the user's own
    /// static (`config`'s would be read through the global offset table, one load more).
    mode: AtomicU8,
}

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
            mode: AtomicU8::new(config::UNSET),
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

    /// The mode code in force, [`config::UNSET`] before the first call. Each method tests
    /// `counts` first, so that its path, the fastest, pays for no other test; and every other
    /// case ends in a tail call, so that `counts`' path needs no stack frame of its own.
    #[inline(always)]
    fn mode(&self) -> u8 {
        self.mode.load(Relaxed)
    }

    /// Reads the settings, on the first call (not by calling the method again afterwards: a
    /// recursive method is not inlined). Returns the mode.
    #[cold]
    #[inline(never)]
    fn first_mode(&self) -> u8 {
        let m = config::mode_code(self.defaults);
        self.mode.store(m, Relaxed);
        m
    }

    // The first call of each method, out of line and with the method's own arguments, so
    // that the method reaches it by a tail call. Contracts: the methods'.

    #[cold]
    #[inline(never)]
    unsafe fn first_alloc(&self, layout: Layout, zeroed: bool) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        unsafe { self.alloc_in(self.first_mode(), layout, zeroed) }
    }

    #[cold]
    #[inline(never)]
    unsafe fn first_dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { self.dealloc_in(self.first_mode(), ptr, layout) }
    }

    #[cold]
    #[inline(never)]
    unsafe fn first_realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        unsafe { self.realloc_in(self.first_mode(), ptr, layout, new) }
    }

    #[inline(always)]
    unsafe fn counted_alloc(&self, layout: Layout, zeroed: bool) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which we pass on.
        let p = unsafe { inner_alloc(&self.inner, layout, zeroed) };
        // No `guard::ignoring()` test: the guard is never raised in `counts` mode.
        if p.is_null() {
            return tally::alloc_rest(p, layout.size());
        }
        tally::alloc_counted(tally::current(), p, layout.size())
    }
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
        // SAFETY (each case): the caller's contract, passed on.
        unsafe {
            match self.mode() {
                COUNTS => self.counted_alloc(layout, false),
                UNSET => self.first_alloc(layout, false),
                m => self.alloc_in(m, layout, false),
            }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY (each case): the caller's contract, passed on.
        unsafe {
            match self.mode() {
                COUNTS => self.counted_alloc(layout, true),
                UNSET => self.first_alloc(layout, true),
                m => self.alloc_in(m, layout, true),
            }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY (each case): the caller's contract, passed on.
        unsafe {
            match self.mode() {
                COUNTS => self.counted_dealloc(ptr, layout),
                UNSET => self.first_dealloc(ptr, layout),
                m => self.dealloc_in(m, ptr, layout),
            }
        }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY (each case): the caller's contract, passed on.
        unsafe {
            match self.mode() {
                COUNTS => self.counted_realloc(ptr, layout, new_size),
                UNSET => self.first_realloc(ptr, layout, new_size),
                m => self.realloc_in(m, ptr, layout, new_size),
            }
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
                Quick::NotCounted => counted_dealloc_rest(&self.inner, ptr, layout),
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
        tally::realloc_counted(tally::current(), p, layout.size(), new)
    }
}

/// `counts` mode's free when [`tally::quick_dealloc`] could not count it: out of line, so
/// that the fast path needs no stack frame.
///
/// # Safety
/// `GlobalAlloc::dealloc`'s contract for `inner`.
#[cold]
#[inline(never)]
unsafe fn counted_dealloc_rest<A: GlobalAlloc>(inner: &A, ptr: *mut u8, layout: Layout) {
    tally::on_dealloc(layout.size());
    // SAFETY: the caller's contract.
    unsafe { inner.dealloc(ptr, layout) }
}
