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
