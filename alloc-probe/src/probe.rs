//! [`Probe`]: the global allocator wrapper.

use std::alloc::{GlobalAlloc, Layout, System};

use crate::config::{self, Mode, COUNTS, SAMPLED};
use crate::{blocks, sampled, tally};

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

    #[inline(always)]
    fn mode(&self) -> u8 {
        config::mode_code(self.defaults)
    }

    #[inline(always)]
    unsafe fn counted_alloc(&self, layout: Layout, zeroed: bool) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which we pass on.
        let p = unsafe { inner_alloc(&self.inner, layout, zeroed) };
        // No `guard::ignoring()` test: the guard is never raised in `counts` mode.
        if p.is_null() {
            tally::on_failed();
        } else {
            tally::on_alloc(layout.size());
        }
        p
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
        // SAFETY: the caller's contract, passed on.
        unsafe {
            match self.mode() {
                COUNTS => self.counted_alloc(layout, false),
                SAMPLED => sampled::alloc(&self.inner, layout, false),
                _ => blocks::alloc(&self.inner, layout, false),
            }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        unsafe {
            match self.mode() {
                COUNTS => self.counted_alloc(layout, true),
                SAMPLED => sampled::alloc(&self.inner, layout, true),
                _ => blocks::alloc(&self.inner, layout, true),
            }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        match self.mode() {
            COUNTS => {
                tally::on_dealloc(layout.size());
                // SAFETY: the caller upholds `dealloc`'s contract: `ptr` came from this
                // allocator, hence from `inner`, with this layout.
                unsafe { self.inner.dealloc(ptr, layout) }
            }
            // SAFETY: `ptr` came from `sampled::alloc` with this layout (the mode is fixed).
            SAMPLED => unsafe { sampled::dealloc(&self.inner, ptr, layout) },
            // SAFETY: `ptr` came from `blocks::alloc` with this layout.
            _ => unsafe { blocks::dealloc(&self.inner, ptr, layout) },
        }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        match self.mode() {
            COUNTS => {
                // SAFETY: as for `dealloc`, plus the caller's guarantees on `new_size`.
                let p = unsafe { self.inner.realloc(ptr, layout, new_size) };
                if p.is_null() {
                    tally::on_failed();
                } else {
                    tally::on_realloc(layout.size(), new_size);
                }
                p
            }
            // SAFETY: `ptr` came from `sampled::alloc` with this layout.
            SAMPLED => unsafe { sampled::realloc(&self.inner, ptr, layout, new_size) },
            // SAFETY: `ptr` came from `blocks::alloc` with this layout.
            _ => unsafe { blocks::realloc(&self.inner, ptr, layout, new_size) },
        }
    }
}
