//! Allocator events, one type per kind, so that code which counts "an event" is written once
//! and compiled for each kind (as divan's `AllocTally` and `AllocOpMap` are).

use super::counter::{Access, Counter};

/// The kinds of event, in the order of [`Events`]' counters.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Alloc,
    Dealloc,
    Realloc,
}

/// One successful call of the allocator, with its sizes.
pub(crate) trait Event: Copy {
    const KIND: Kind;

    /// The bytes it adds to the sums of bytes allocated and bytes freed. A reallocation frees
    /// its old size and allocates its new one (DHAT's convention).
    fn bytes(self) -> (u64, u64);
}

/// An allocation (`alloc` or `alloc_zeroed`) of this many bytes.
#[derive(Clone, Copy)]
pub(crate) struct Alloc(pub usize);

/// A free of a block of this many bytes.
#[derive(Clone, Copy)]
pub(crate) struct Dealloc(pub usize);

/// A reallocation from `old` to `new` bytes.
#[derive(Clone, Copy)]
pub(crate) struct Realloc {
    pub old: usize,
    pub new: usize,
}

impl Event for Alloc {
    const KIND: Kind = Kind::Alloc;

    #[inline(always)]
    fn bytes(self) -> (u64, u64) {
        (self.0 as u64, 0)
    }
}

impl Event for Dealloc {
    const KIND: Kind = Kind::Dealloc;

    #[inline(always)]
    fn bytes(self) -> (u64, u64) {
        (0, self.0 as u64)
    }
}

impl Event for Realloc {
    const KIND: Kind = Kind::Realloc;

    #[inline(always)]
    fn bytes(self) -> (u64, u64) {
        (self.new as u64, self.old as u64)
    }
}

/// A counter per kind of event.
#[derive(Default)]
#[repr(C)]
pub(crate) struct Events([Counter; 3]);

impl Events {
    pub(crate) const fn new() -> Events {
        Events([Counter::new(0), Counter::new(0), Counter::new(0)])
    }

    /// Counts one event of `E`'s kind.
    #[inline(always)]
    pub(crate) fn count<E: Event>(&self, a: Access) {
        self.0[E::KIND as usize].add(1, a);
    }

    /// Events of this kind counted so far.
    #[inline(always)]
    pub(crate) fn get(&self, k: Kind) -> u64 {
        self.0[k as usize].get()
    }

    /// Every event counted so far.
    #[inline(always)]
    pub(crate) fn sum(&self) -> u64 {
        let [a, d, r] = &self.0;
        a.get().wrapping_add(d.get()).wrapping_add(r.get())
    }
}
