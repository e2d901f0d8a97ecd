//! [`Probe`]: the global allocator wrapper, and where its methods go.
//!
//! Each `GlobalAlloc` method jumps through a pointer in the user's own `static` to its mode's
//! function (see `alloc`), set on the probe's first call, instead of testing the mode (and
//! whether it is known) on every call. The pointers take `__rust_alloc`'s own arguments, in
//! its registers, so that its shim only adds the probe's address.
//!
//! `Probe` sits at the top of the crate rather than beside the allocator path because its
//! first call also installs the process's hooks (the report at exit, fork safety, the trace),
//! which reach the reports.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering::*};

use crate::alloc::counts::Counts;
use crate::alloc::full::Full;
use crate::alloc::sampled::Sampled;
use crate::alloc::Path;
use crate::process;
use crate::sys::settings::{self, Defaults, Mode, COUNTS, SAMPLED};

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
/// In the `full` mode each block carries a 24-byte header in front of it. In the `counts`
/// mode blocks are passed through untouched, and in `sampled` mode all but the sampled ones:
/// a sampled block aligned to at most 8 sits 8 bytes into an inner block 8 bytes larger,
/// aligned to 16, so that a free can tell it from the others by its address (its record is
/// kept aside).
pub struct Probe<A: GlobalAlloc = System> {
    inner: A,
    defaults: Defaults,
    entries: Entries,
}

/// The entry points of the four `GlobalAlloc` methods: the mode's functions once the mode is
/// known, the `first_*` functions before. Each is stored as the function pointer type named
/// on it, cast to a raw pointer (function pointers have no atomic type).
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

/// Set once a `Probe` has taken a call, after the mode is fixed: the API checks it to fail
/// loudly when `Probe` is not the global allocator. Not by claiming a slot, which a tracked
/// call does too.
pub(crate) static INSTALLED: AtomicBool = AtomicBool::new(false);

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
                max_stacks: u64::MAX,
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

    /// The same probe keeping at most `stacks` unique allocation stacks (default: as many as
    /// memory holds), which bounds its tracking memory in a long-running process. Blocks from
    /// stacks past it count in the totals without a site; the report's
    /// `tracking.unsited_blocks` and one line on stderr say so. `ALLOC_PROBE_MAX_STACKS`
    /// still overrides it.
    pub const fn with_max_stacks(mut self, stacks: u64) -> Probe<A> {
        self.defaults.max_stacks = stacks;
        self
    }

    /// The wrapped allocator.
    pub const fn inner(&self) -> &A {
        &self.inner
    }

    /// The first call: fixes the settings, marks the probe installed, installs the process's
    /// hooks, and points every method at its mode's function. Threads racing here compute the
    /// same mode and store the same entries. Released, and acquired by every call: a thread
    /// whose first call finds another thread's entry also sees the mode and `INSTALLED` set
    /// before it (free on x86, where every load acquires).
    #[cold]
    #[inline(never)]
    fn first_call(&self) {
        let mode = settings::fix(self.defaults);
        INSTALLED.store(true, Relaxed);
        process::install();
        match mode {
            COUNTS => self.point_at::<Counts>(),
            SAMPLED => self.point_at::<Sampled>(),
            _ => self.point_at::<Full>(),
        }
    }

    /// Points every method at path `P`'s functions.
    fn point_at<P: Path>(&self) {
        let e = &self.entries;
        e.alloc
            .store(Self::alloc_by::<P, false> as AllocFn<A> as *mut (), Release);
        e.alloc_zeroed
            .store(Self::alloc_by::<P, true> as AllocFn<A> as *mut (), Release);
        e.dealloc
            .store(Self::dealloc_by::<P> as DeallocFn<A> as *mut (), Release);
        e.realloc
            .store(Self::realloc_by::<P> as ReallocFn<A> as *mut (), Release);
    }

    // The first call of each method: fixes the mode, which points the entries at its
    // functions, then makes the call again through its entry. Contracts: the methods'.

    unsafe fn first_alloc(size: usize, align: usize, p: &Self) -> *mut u8 {
        p.first_call();
        // SAFETY: the caller's contract, passed on.
        unsafe { GlobalAlloc::alloc(p, layout(size, align)) }
    }

    unsafe fn first_alloc_zeroed(size: usize, align: usize, p: &Self) -> *mut u8 {
        p.first_call();
        // SAFETY: the caller's contract, passed on.
        unsafe { GlobalAlloc::alloc_zeroed(p, layout(size, align)) }
    }

    unsafe fn first_dealloc(ptr: *mut u8, size: usize, align: usize, p: &Self) {
        p.first_call();
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
        p.first_call();
        // SAFETY: the caller's contract, passed on.
        unsafe { GlobalAlloc::realloc(p, ptr, layout(size, align), new) }
    }

    // Each mode's entries. Blocks aligned to more than `INLINE_ALIGN` go out of line.
    // Contracts: the methods'.

    unsafe fn alloc_by<P: Path, const ZEROED: bool>(
        size: usize,
        align: usize,
        p: &Self,
    ) -> *mut u8 {
        if align > INLINE_ALIGN {
            // SAFETY: the caller's contract, passed on.
            return unsafe { Self::alloc_aligned::<P, ZEROED>(size, align, p) };
        }
        // SAFETY: the caller's contract, passed on.
        unsafe { P::alloc(&p.inner, layout(size, align), ZEROED) }
    }

    /// [`Self::alloc_by`] of an over-aligned block, out of line.
    #[cold]
    #[inline(never)]
    unsafe fn alloc_aligned<P: Path, const ZEROED: bool>(
        size: usize,
        align: usize,
        p: &Self,
    ) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        unsafe { P::alloc(&p.inner, layout(size, align), ZEROED) }
    }

    unsafe fn dealloc_by<P: Path>(ptr: *mut u8, size: usize, align: usize, p: &Self) {
        // SAFETY: the caller's contract, passed on.
        unsafe { P::dealloc(&p.inner, ptr, layout(size, align)) }
    }

    unsafe fn realloc_by<P: Path>(
        ptr: *mut u8,
        size: usize,
        align: usize,
        new: usize,
        p: &Self,
    ) -> *mut u8 {
        if align > INLINE_ALIGN {
            // SAFETY: the caller's contract, passed on.
            return unsafe { Self::realloc_aligned::<P>(ptr, size, align, new, p) };
        }
        // SAFETY: the caller's contract, passed on.
        unsafe { P::realloc(&p.inner, ptr, layout(size, align), new) }
    }

    /// [`Self::realloc_by`] of an over-aligned block, out of line.
    #[cold]
    #[inline(never)]
    unsafe fn realloc_aligned<P: Path>(
        ptr: *mut u8,
        size: usize,
        align: usize,
        new: usize,
        p: &Self,
    ) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        unsafe { P::realloc(&p.inner, ptr, layout(size, align), new) }
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

// SAFETY: in the `counts` and `sampled` modes every method forwards to the inner allocator with
// the caller's arguments, but for a sampled block's, which is placed 8 bytes into an inner
// block 8 bytes larger; in `full` mode the inner block has 16 more bytes (same alignment, at
// least 8) and the part after the header is handed out. Either way the memory handed out is
// exactly what the caller asked for, and is given back whole.
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
