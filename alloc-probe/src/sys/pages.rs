//! Pages from the kernel: memory for the profiler's own tables, never through the global
//! allocator (which is us), and not through `System` either, whose heap is the program's: our
//! tables there would change how the program's own blocks are laid out, and so what it costs,
//! against the same program without us.

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

/// Reserves address space for up to `max` bytes, lazily committed as it is written: halves
/// the request while the kernel refuses it (strict overcommit accounting), down to `min`.
/// Returns the mapping and its length, or null.
pub(crate) fn reserve(max: usize, min: usize) -> (*mut u8, usize) {
    let mut bytes = max;
    while bytes >= min {
        let p = map_zeroed(bytes);
        if !p.is_null() {
            return (p, bytes);
        }
        bytes /= 2;
    }
    (ptr::null_mut(), 0)
}

/// Gives the pages of `bytes` at `p` back to the kernel but keeps the mapping: reading them
/// later sees zeros, and costs nothing until written.
///
/// # Safety
/// `p` and `bytes` lie inside a mapping from [`map_zeroed`], page-aligned, whose contents no
/// longer matter.
pub(crate) unsafe fn discard(p: *mut u8, bytes: usize) {
    // SAFETY: the caller's contract; MADV_DONTNEED on a private anonymous mapping refills
    // with zeros.
    unsafe { libc::madvise(p.cast(), bytes, libc::MADV_DONTNEED) };
}

/// Gives back `bytes` mapped by [`map_zeroed`] at `p`.
///
/// # Safety
/// `p` and `bytes` are a mapping's, and nothing refers to it any more.
pub(crate) unsafe fn unmap(p: *mut u8, bytes: usize) {
    // SAFETY: the caller's contract.
    unsafe { libc::munmap(p.cast(), bytes) };
}

/// The process's resident memory in bytes, from /proc/self/statm, read into a stack buffer.
pub(crate) fn resident() -> Option<u64> {
    let mut buf = [0u8; 128];
    // SAFETY: a NUL-terminated path; the fd is closed; reads stay within `buf`.
    let n = unsafe {
        let fd = libc::open(c"/proc/self/statm".as_ptr(), libc::O_RDONLY);
        if fd < 0 {
            return None;
        }
        let n = libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
        libc::close(fd);
        n
    };
    let text = std::str::from_utf8(buf.get(..usize::try_from(n).ok()?)?).ok()?;
    let pages: u64 = text.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page).ok()?)
}
