//! The side table: the records of blocks that carry no header in front of them, over-aligned
//! blocks in `full` mode and every sampled block in `sampled` mode (a header's four words and
//! the block's weight), by address. One spin lock; memory from `mmap`, never from the global
//! allocator.
//!
//! In `sampled` mode every free asks whether its block is here, and almost never is. A bitmap
//! of addresses answers that without the lock: a clear bit means "not here" for sure,
//! a set bit sends the free to the table. Each bit is backed by a count of the table's keys
//! that hash to it, kept under the lock, so removing a key clears its bit when it was the last.

use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering::*};

use super::header::Record;
use crate::sys::pages;
use crate::sys::spin::SpinLock;

const EMPTY: usize = 0;
const TOMB: usize = 1;

#[derive(Clone, Copy)]
struct Entry {
    key: usize,
    value: Record,
}

struct Map {
    entries: *mut Entry,
    cap: usize,
    used: usize, // live + tombstones
    live: usize,
    /// Insertions promised room (see [`reserve`]): `(used + reserved) * 2 <= cap` always.
    reserved: usize,
    /// Keys per bitmap bucket; saturated counts stay put (their bit stays set).
    keys: [u16; BUCKETS],
}

/// Buckets of the address bitmap: 64K bits, 8 KiB, small enough to stay in cache.
const BUCKETS: usize = 1 << 16;
static BITMAP: [AtomicU64; BUCKETS / 64] = [const { AtomicU64::new(0) }; BUCKETS / 64];

/// An address's bucket: its 16-byte granule, modulo the buckets. No hash: blocks allocated
/// near each other share bitmap words, so the frees of a busy region keep reading the same
/// few cache lines, and the test costs two shifts and a mask. Addresses a multiple of 1 MiB
/// apart share a bucket (large page-aligned blocks use only 256 buckets between them); a
/// shared bucket costs only a trip to the table.
#[inline(always)]
fn bucket(addr: usize) -> usize {
    (addr >> 4) % BUCKETS
}

/// Whether the table may hold `addr`. False means it does not: a key's bit is set (under the
/// lock) before `insert` returns, so before anyone can be handed the block to free it.
#[inline(always)]
pub(crate) fn may_hold(addr: usize) -> bool {
    let b = bucket(addr);
    BITMAP[b / 64].load(Relaxed) >> (b % 64) & 1 != 0
}

struct Side {
    lock: SpinLock,
    map: std::cell::UnsafeCell<Map>,
}

// SAFETY: `map` is only touched while `lock` is held.
unsafe impl Sync for Side {}

static SIDE: Side = Side {
    lock: SpinLock::new(),
    map: std::cell::UnsafeCell::new(Map {
        entries: ptr::null_mut(),
        cap: 0,
        used: 0,
        live: 0,
        reserved: 0,
        keys: [0; BUCKETS],
    }),
};

fn with<R>(f: impl FnOnce(&mut Map) -> R) -> R {
    SIDE.lock.lock();
    // SAFETY: we hold the lock.
    let r = f(unsafe { &mut *SIDE.map.get() });
    SIDE.lock.unlock();
    r
}

fn position(key: usize, cap: usize) -> usize {
    (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 7) & (cap - 1)
}

impl Map {
    fn insert(&mut self, addr: usize, value: Record) -> bool {
        let new = self.find(addr).is_none();
        if !self.put(addr, value) {
            return false;
        }
        if new {
            let b = bucket(addr);
            self.keys[b] = self.keys[b].saturating_add(1);
            BITMAP[b / 64].fetch_or(1 << (b % 64), Relaxed);
        }
        true
    }

    fn find(&self, key: usize) -> Option<usize> {
        if self.cap == 0 {
            return None;
        }
        let mut i = position(key, self.cap);
        loop {
            // SAFETY: i < cap.
            let e = unsafe { &*self.entries.add(i) };
            if e.key == key {
                return Some(i);
            }
            if e.key == EMPTY {
                return None;
            }
            i = (i + 1) & (self.cap - 1);
        }
    }

    /// Rehashes into a new array: of the same size when tombstones, not live keys, filled
    /// this one (blocks sampled and freed in turn would otherwise double it forever), else
    /// twice the size.
    fn grow(&mut self) -> bool {
        let same = (self.live + self.reserved + 1) * 4 <= self.cap;
        let cap = if same { self.cap } else { self.cap * 2 }.max(1024);
        // Zeroed: every entry's key is `EMPTY`.
        let entries: *mut Entry = pages::map_zeroed(cap * std::mem::size_of::<Entry>()).cast();
        if entries.is_null() {
            return false;
        }
        let (old, old_cap) = (self.entries, self.cap);
        self.entries = entries;
        self.cap = cap;
        self.used = 0;
        self.live = 0;
        for i in 0..old_cap {
            // SAFETY: i < old_cap.
            let e = unsafe { *old.add(i) };
            if e.key > TOMB {
                self.put(e.key, e.value);
            }
        }
        if !old.is_null() {
            // SAFETY: `old` was mapped by us with this length and nobody refers to it now.
            unsafe { pages::unmap(old.cast(), old_cap * std::mem::size_of::<Entry>()) };
        }
        true
    }

    fn put(&mut self, key: usize, value: Record) -> bool {
        if let Some(i) = self.find(key) {
            // SAFETY: i < cap.
            unsafe { (*self.entries.add(i)).value = value };
            return true;
        }
        if (self.used + self.reserved + 1) * 2 > self.cap && !self.grow() {
            return false;
        }
        let mut i = position(key, self.cap);
        loop {
            // SAFETY: i < cap.
            let e = unsafe { &mut *self.entries.add(i) };
            if e.key <= TOMB {
                if e.key == EMPTY {
                    self.used += 1;
                }
                *e = Entry { key, value };
                self.live += 1;
                return true;
            }
            i = (i + 1) & (self.cap - 1);
        }
    }
}

/// Stores `value` for the block at `addr`; false if out of memory.
pub(crate) fn insert(addr: usize, value: Record) -> bool {
    with(|m| m.insert(addr, value))
}

/// Promises room for one insertion, growing the table now if need be; false if out of
/// memory. For a block whose record must be found (a tagged sampled block, see
/// `alloc::sampled`): the room is taken before the block exists, then used by
/// [`insert_reserved`] or given back by [`unreserve`].
pub(crate) fn reserve() -> bool {
    with(|m| {
        if (m.used + m.reserved + 1) * 2 > m.cap && !m.grow() {
            return false;
        }
        m.reserved += 1;
        true
    })
}

/// Gives back room [`reserve`] promised.
pub(crate) fn unreserve() {
    with(|m| m.reserved -= 1);
}

/// [`insert`] into room [`reserve`] promised: cannot fail.
pub(crate) fn insert_reserved(addr: usize, value: Record) {
    with(|m| {
        m.reserved -= 1;
        // With `reserved` one lower, `(used + reserved + 1) * 2 <= cap`: `put` needs no
        // growth, and a table under half full always has an empty entry.
        let _ = m.insert(addr, value);
    })
}

/// Removes and returns the value for `addr`.
pub(crate) fn remove(addr: usize) -> Option<Record> {
    with(|m| {
        let i = m.find(addr)?;
        // SAFETY: i < cap.
        let e = unsafe { &mut *m.entries.add(i) };
        e.key = TOMB;
        m.live -= 1;
        let b = bucket(addr);
        if m.keys[b] != u16::MAX {
            m.keys[b] -= 1;
            if m.keys[b] == 0 {
                BITMAP[b / 64].fetch_and(!(1 << (b % 64)), Relaxed);
            }
        }
        Some(e.value)
    })
}

/// Bytes of memory the table holds, for the tracking-overhead figure.
pub(crate) fn footprint() -> usize {
    with(|m| {
        // The table is mapped at its first key, so a table in use is one with a capacity.
        let bitmap = if m.cap > 0 {
            std::mem::size_of_val(&BITMAP) + std::mem::size_of_val(&m.keys)
        } else {
            0
        };
        m.cap * std::mem::size_of::<Entry>() + bitmap
    })
}

/// Takes the lock before `fork`, so the child never inherits a half-made change.
pub(crate) fn lock_for_fork() {
    SIDE.lock.lock();
}

/// Releases it after `fork`, in parent and child.
pub(crate) fn unlock_after_fork() {
    SIDE.lock.unlock();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_inserted_and_removed_in_turn_do_not_grow_the_table_forever() {
        // Far from any real block's address, so no other test's keys meet these.
        let base = 0x7fff_0000_0000_usize;
        for i in 0..200_000 {
            let key = base + i * 16;
            assert!(insert(key, [i as u64, 0, 1, 2]));
            assert_eq!(remove(key), Some([i as u64, 0, 1, 2]));
        }
        assert!(reserve());
        insert_reserved(base, [1, 2, 3, 4]);
        assert_eq!(remove(base), Some([1, 2, 3, 4]));
        let cap = with(|m| m.cap);
        assert!(
            cap <= 4096,
            "the table grew to {cap} entries for one live key"
        );
    }
}
