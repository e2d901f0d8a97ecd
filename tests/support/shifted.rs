//! An inner allocator whose blocks aligned to at most 8 are all 8 past a multiple of 16, as
//! no block of an allocator that aligns to 16 is: the worst case for `sampled` mode's test
//! of a freed block's address, which then never answers "not sampled" by itself.

use std::alloc::{GlobalAlloc, Layout, System};

pub struct Shifted;

/// The System block behind a shifted block of `l`, if `l` is shifted.
fn behind(l: Layout) -> Option<Layout> {
    (l.align() <= 8).then(|| Layout::from_size_align(l.size() + 8, 16).expect("a small test block"))
}

// SAFETY: a shifted block is the part after the first 8 bytes of a System block 8 bytes
// larger and aligned to 16: aligned to 8, with the size asked; the rest is System's.
unsafe impl GlobalAlloc for Shifted {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        // SAFETY: caller's contract passed on, for a layout 8 bytes larger.
        unsafe {
            match behind(l) {
                Some(b) => {
                    let p = System.alloc(b);
                    if p.is_null() {
                        p
                    } else {
                        p.add(8)
                    }
                }
                None => System.alloc(l),
            }
        }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: the block as `alloc` made it.
        unsafe {
            match behind(l) {
                Some(b) => System.dealloc(p.sub(8), b),
                None => System.dealloc(p, l),
            }
        }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        // SAFETY: the block as `alloc` made it, and the caller's new size plus 8.
        unsafe {
            match behind(l) {
                Some(b) => {
                    let q = System.realloc(p.sub(8), b, n + 8);
                    if q.is_null() {
                        q
                    } else {
                        q.add(8)
                    }
                }
                None => System.realloc(p, l, n),
            }
        }
    }
}
