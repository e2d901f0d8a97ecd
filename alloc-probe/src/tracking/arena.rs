//! Append-only tables of fixed-size records in reserved address space: a record's id is its
//! place, so finding one is one multiplication and one load, and pages are committed only as
//! records are added. Records start zeroed and are never freed or moved.

use std::marker::PhantomData;
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicUsize, Ordering::*};

use crate::sys::pages;

/// Address space asked for first; less where the kernel accounts for it strictly.
const RESERVE: usize = 8 << 30;
/// The least worth having.
const RESERVE_MIN: usize = 16 << 20;
/// Bytes committed at a time (see `sys::pages::commit`).
const COMMIT_STEP: usize = 1 << 20;

/// Records of type `T` (all-zero must be a valid `T`), ids from 1; slot 0 is a zeroed record
/// that stands for "none".
pub(crate) struct Arena<T> {
    base: AtomicPtr<T>,
    /// Records the reservation holds.
    cap: AtomicUsize,
    /// Ids handed out, including slot 0 once reserved.
    len: AtomicU32,
    /// Bytes of the reservation committed (written by [`Arena::add`] only).
    committed: AtomicUsize,
    _t: PhantomData<T>,
}

// SAFETY: records are shared between threads through `&T`; `T` is made of atomics and plain
// data written before its id is published.
unsafe impl<T: Sync> Sync for Arena<T> {}

impl<T> Arena<T> {
    pub(crate) const fn new() -> Arena<T> {
        Arena {
            base: AtomicPtr::new(ptr::null_mut()),
            cap: AtomicUsize::new(0),
            len: AtomicU32::new(0),
            committed: AtomicUsize::new(0),
            _t: PhantomData,
        }
    }

    /// The record with id `id`, which must have been handed out by [`Arena::add`] (or be 0
    /// once something was added).
    #[inline(always)]
    pub(crate) fn at(&self, id: u32) -> &T {
        // SAFETY: the caller's contract: `id` < len <= cap, so the record lies inside the
        // reservation, and ids are handed out only once the reservation is published.
        unsafe { &*self.base.load(Relaxed).add(id as usize) }
    }

    /// The record with id `id`, if handed out.
    #[inline(always)]
    pub(crate) fn get(&self, id: u32) -> Option<&T> {
        (id != 0 && id < self.len.load(Acquire)).then(|| self.at(id))
    }

    /// Ids handed out (the last one is `count()`).
    pub(crate) fn count(&self) -> u32 {
        self.len.load(Acquire).saturating_sub(1)
    }

    /// Bytes of records handed out: what the table has committed.
    pub(crate) fn footprint(&self) -> u64 {
        u64::from(self.len.load(Relaxed)) * std::mem::size_of::<T>() as u64
    }

    /// A new record's id and the record, zeroed; `None` when the reservation is full or the
    /// kernel gives none. The caller holds the lock that guards adding to this table, and
    /// publishes the id only once it has written the record.
    pub(crate) fn add(&self) -> Option<(u32, *mut T)> {
        let mut base = self.base.load(Acquire);
        if base.is_null() {
            let (p, bytes) = pages::reserve(RESERVE, RESERVE_MIN);
            if p.is_null() {
                return None;
            }
            self.cap
                .store(bytes / std::mem::size_of::<T>().max(1), Relaxed);
            self.len.store(1, Relaxed); // slot 0 stands for "none"
            base = p.cast();
            // Publishes `cap` and `len` with it.
            self.base.store(base, Release);
        }
        let id = self.len.load(Relaxed);
        let cap = self.cap.load(Relaxed);
        if id as usize >= cap || id == u32::MAX {
            return None;
        }
        let size = std::mem::size_of::<T>();
        let end = (id as usize + 1) * size;
        let committed = self.committed.load(Relaxed);
        if end > committed {
            let upto = end.next_multiple_of(COMMIT_STEP).min(cap * size);
            // SAFETY: `committed..upto` lies inside the reservation.
            if !unsafe { pages::commit(base.cast::<u8>().add(committed), upto - committed) } {
                return None;
            }
            self.committed.store(upto, Relaxed);
        }
        self.len.store(id + 1, Release);
        // SAFETY: `id` < cap: inside the reservation, and handed out to this caller only.
        Some((id, unsafe { base.add(id as usize) }))
    }
}
