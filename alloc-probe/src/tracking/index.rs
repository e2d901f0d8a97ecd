//! A hash index of record ids, looked up without a lock and grown as records are added: the
//! way from a key (a call-tree node's caller and address, a stack's leaf) to its record.
//!
//! Open addressing over ids (0 is empty), at most three quarters full (a probe reads on along
//! the cache line, 16 slots, so longer runs cost little). A table is one mapping that
//! starts with its length, so a reader always pairs a table with its own length. Growing maps
//! a table twice the size, fills it, publishes it, and gives the old one's pages back while
//! keeping the mapping: a reader still in it reads zeros (a length of 0, or empty slots),
//! misses, and looks again under the lock, which finds the new table.

use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicUsize, Ordering::*};

use crate::sys::pages;

/// Slots of the first table.
const FIRST: usize = 1 << 12;
/// Bytes before the slots: the length.
const HEAD: usize = 8;

pub(crate) struct Index {
    /// The table: its length (a power of two), then the slots.
    table: AtomicPtr<AtomicUsize>,
}

/// The table at `t`: its length and slots (a length of 0 reads as no slots).
#[inline(always)]
fn parts(t: *mut AtomicUsize) -> (usize, *mut AtomicU32) {
    // SAFETY: `t` is a table's mapping, which starts with its length and is never unmapped.
    let len = unsafe { &*t }.load(Relaxed);
    // SAFETY: the slots follow the length inside the mapping.
    (len, unsafe { t.cast::<u8>().add(HEAD) }.cast())
}

impl Index {
    pub(crate) const fn new() -> Index {
        Index {
            table: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// The id whose record `eq` accepts, among those inserted with `hash`.
    #[inline(always)]
    pub(crate) fn find(&self, hash: u64, eq: impl Fn(u32) -> bool) -> Option<u32> {
        let t = self.table.load(Acquire);
        if t.is_null() {
            return None;
        }
        let (len, slots) = parts(t);
        if len == 0 {
            return None; // a retired table
        }
        let mask = len - 1;
        let mut pos = hash as usize & mask;
        loop {
            // SAFETY: `pos` <= mask < the table's length.
            let id = unsafe { &*slots.add(pos) }.load(Acquire);
            if id == 0 {
                return None;
            }
            if eq(id) {
                return Some(id);
            }
            pos = (pos + 1) & mask;
        }
    }

    /// Inserts `id` with `hash`, growing the table first if it would be more than 3/4 full
    /// with ids `1..=id`; `rehash` gives the hash of each id inserted before, all of them
    /// being `1..id`. The caller holds the lock of the records and has checked that the key
    /// is absent. False if there is no memory for a larger table.
    pub(crate) fn insert(&self, hash: u64, id: u32, rehash: impl Fn(u32) -> u64) -> bool {
        let mut t = self.table.load(Relaxed);
        let len = if t.is_null() { 0 } else { parts(t).0 };
        if (id as usize) * 4 > len * 3 {
            let bigger = (len * 2).max(FIRST);
            let new: *mut AtomicUsize = pages::map_zeroed(HEAD + bigger * 4).cast();
            if new.is_null() {
                return false;
            }
            // SAFETY: our fresh mapping.
            unsafe { &*new }.store(bigger, Relaxed);
            for old in 1..id {
                put(new, rehash(old), old);
            }
            self.table.store(new, Release);
            if !t.is_null() {
                // SAFETY: the old table, out of use; readers still in it read zeros.
                unsafe { pages::discard(t.cast(), HEAD + len * 4) };
            }
            t = new;
        }
        put(t, hash, id);
        true
    }

    /// Bytes of the current table.
    pub(crate) fn footprint(&self) -> u64 {
        let t = self.table.load(Relaxed);
        if t.is_null() {
            0
        } else {
            (HEAD + parts(t).0 * 4) as u64
        }
    }
}

fn put(t: *mut AtomicUsize, hash: u64, id: u32) {
    let (len, slots) = parts(t);
    let mut pos = hash as usize & (len - 1);
    loop {
        // SAFETY: `pos` < len, the table's length.
        let s = unsafe { &*slots.add(pos) };
        if s.load(Relaxed) == 0 {
            s.store(id, Release);
            return;
        }
        pos = (pos + 1) & (len - 1);
    }
}
