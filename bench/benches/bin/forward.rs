//! Overhead bench process: the shared workload under a wrapper around `System` that only
//! forwards each call, through the same `GlobalAlloc` methods as `Probe`'s. Its ratio is the
//! floor for any wrapper.
#[path = "../workload/mod.rs"]
mod workload;

use std::alloc::{GlobalAlloc, Layout, System};

struct Forward(System);

// SAFETY: every method forwards to `System` with the caller's arguments.
unsafe impl GlobalAlloc for Forward {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        unsafe { self.0.alloc(layout) }
    }
    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        unsafe { self.0.alloc_zeroed(layout) }
    }
    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { self.0.dealloc(ptr, layout) }
    }
    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        unsafe { self.0.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Forward = Forward(System);

fn main() {
    workload::bench_main(|| ());
}
