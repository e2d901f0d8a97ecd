//! Memory for the profiler's own tables, mapped from the kernel: never through the global
//! allocator (which is us), and not through `System` either, whose heap is the program's:
//! our tables there would change how the program's own blocks are laid out, and so what it
//! costs, against the same program without us.

use std::ptr;

/// Maps `bytes` of zeroed, lazily committed memory; null if the kernel refuses.
pub(crate) fn map_zeroed(bytes: usize) -> *mut u8 {
    // SAFETY: an anonymous private mapping with no address hint; checked for failure.
    let p = unsafe {
        libc::mmap(
            ptr::null_mut(),
            bytes,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
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
