//! A small address-keyed table for the rare blocks whose facts cannot sit in an in-band
//! header: over-aligned blocks (their header lives here) and sampled blocks (their weight
//! lives here). One spin lock; memory from `mmap`, never from the global allocator.

use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering::*};

const EMPTY: usize = 0;
const TOMB: usize = 1;

#[derive(Clone, Copy)]
struct Entry {
    key: usize,
    value: [u64; 3],
}

struct Map {
    entries: *mut Entry,
    cap: usize,
    used: usize, // live + tombstones
    live: usize,
}

struct Side {
    lock: AtomicBool,
    map: std::cell::UnsafeCell<Map>,
}

// SAFETY: `map` is only touched while `lock` is held.
unsafe impl Sync for Side {}

static SIDE: Side = Side {
    lock: AtomicBool::new(false),
    map: std::cell::UnsafeCell::new(Map {
        entries: ptr::null_mut(),
        cap: 0,
        used: 0,
        live: 0,
    }),
};

fn with<R>(f: impl FnOnce(&mut Map) -> R) -> R {
    lock_for_fork();
    // SAFETY: we hold the lock.
    let r = f(unsafe { &mut *SIDE.map.get() });
    SIDE.lock.store(false, Release);
    r
}

fn map_entries(cap: usize) -> *mut Entry {
    // SAFETY: anonymous private mapping, checked for failure; zeroed memory is all-EMPTY.
    let p = unsafe {
        libc::mmap(
            ptr::null_mut(),
            cap * std::mem::size_of::<Entry>(),
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        ptr::null_mut()
    } else {
        p.cast()
    }
}

fn slot_of(key: usize, cap: usize) -> usize {
    (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 7) & (cap - 1)
}

impl Map {
    fn find(&self, key: usize) -> Option<usize> {
        if self.cap == 0 {
            return None;
        }
        let mut i = slot_of(key, self.cap);
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

    fn grow(&mut self) -> bool {
        let cap = (self.cap * 2).max(1024);
        let entries = map_entries(cap);
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
            unsafe { libc::munmap(old.cast(), old_cap * std::mem::size_of::<Entry>()) };
        }
        true
    }

    fn put(&mut self, key: usize, value: [u64; 3]) -> bool {
        if let Some(i) = self.find(key) {
            // SAFETY: i < cap.
            unsafe { (*self.entries.add(i)).value = value };
            return true;
        }
        if (self.used + 1) * 2 > self.cap && !self.grow() {
            return false;
        }
        let mut i = slot_of(key, self.cap);
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
pub(crate) fn insert(addr: usize, value: [u64; 3]) -> bool {
    with(|m| m.put(addr, value))
}

/// Removes and returns the value for `addr`.
pub(crate) fn remove(addr: usize) -> Option<[u64; 3]> {
    with(|m| {
        let i = m.find(addr)?;
        // SAFETY: i < cap.
        let e = unsafe { &mut *m.entries.add(i) };
        e.key = TOMB;
        m.live -= 1;
        Some(e.value)
    })
}

/// Bytes of memory the table holds, for the tracking-overhead figure.
pub(crate) fn footprint() -> usize {
    with(|m| m.cap * std::mem::size_of::<Entry>())
}

/// Takes the lock before `fork`, so the child never inherits a half-made change.
pub(crate) fn lock_for_fork() {
    while SIDE
        .lock
        .compare_exchange_weak(false, true, Acquire, Relaxed)
        .is_err()
    {
        std::hint::spin_loop();
    }
}

/// Releases it after `fork`, in parent and child.
pub(crate) fn unlock_after_fork() {
    SIDE.lock.store(false, Release);
}
