//! An inner allocator that refuses, for tests of the failure paths.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// System, except that it refuses any request over 1 GiB.
pub struct Refusing;

/// Requests refused so far: each failed request of the program should be one of them.
pub static REFUSED: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to System or returns null, which GlobalAlloc allows.
unsafe impl GlobalAlloc for Refusing {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if l.size() > 1 << 30 {
            REFUSED.fetch_add(1, Relaxed);
            return std::ptr::null_mut();
        }
        // SAFETY: caller's contract passed on.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: caller's contract passed on.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        if n > 1 << 30 {
            REFUSED.fetch_add(1, Relaxed);
            return std::ptr::null_mut();
        }
        // SAFETY: caller's contract passed on.
        unsafe { System.realloc(p, l, n) }
    }
}
