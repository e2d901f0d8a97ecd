//! Pages from the kernel: memory for the profiler's own tables, never through the global
//! allocator (which is us), and not through `System` either, whose heap is the program's: our
//! tables there would change how the program's own blocks are laid out, and so what it costs,
//! against the same program without us.
//!
//! Unix commits pages lazily, as they are first written. Windows charges committed pages to
//! the system's commit limit at once, so large reservations there are committed in steps
//! ([`commit`]), which is free elsewhere.

use std::ptr;

/// Maps `bytes` of zeroed memory, ready to write; null if the system refuses.
pub(crate) fn map_zeroed(bytes: usize) -> *mut u8 {
    imp::map(bytes, true)
}

/// Reserves address space for up to `max` bytes, halving the request while the system refuses
/// it, down to `min`. Returns the reservation and its length, or null. Only what [`commit`]
/// commits may be touched.
pub(crate) fn reserve(max: usize, min: usize) -> (*mut u8, usize) {
    let mut bytes = max;
    while bytes >= min {
        let p = imp::map(bytes, false);
        if !p.is_null() {
            return (p, bytes);
        }
        bytes /= 2;
    }
    (ptr::null_mut(), 0)
}

/// Makes `bytes` at `p`, inside a reservation from [`reserve`], usable (zeroed); false if the
/// system refuses. Committing again what is committed is harmless.
///
/// # Safety
/// `p..p + bytes` lies inside a reservation from [`reserve`].
pub(crate) unsafe fn commit(p: *mut u8, bytes: usize) -> bool {
    // SAFETY: the caller's contract.
    unsafe { imp::commit(p, bytes) }
}

/// Gives the pages of `bytes` at `p` back to the system, where it can without a window in
/// which reading them faults: reading them later sees zeros or what they held.
///
/// # Safety
/// `p` and `bytes` lie inside a mapping from [`map_zeroed`], page-aligned, whose contents no
/// longer matter.
pub(crate) unsafe fn discard(p: *mut u8, bytes: usize) {
    // SAFETY: the caller's contract.
    unsafe { imp::discard(p, bytes) }
}

/// Gives back `bytes` mapped by [`map_zeroed`] at `p`.
///
/// # Safety
/// `p` and `bytes` are a mapping's, and nothing refers to it any more.
pub(crate) unsafe fn unmap(p: *mut u8, bytes: usize) {
    // SAFETY: the caller's contract.
    unsafe { imp::unmap(p, bytes) }
}

/// The process's resident memory in bytes, read without allocating.
pub(crate) fn resident() -> Option<u64> {
    imp::resident()
}

#[cfg(unix)]
mod imp {
    use std::ptr;

    /// An anonymous private mapping, at `at` exactly if it is not null.
    fn anonymous(at: *mut u8, bytes: usize) -> *mut u8 {
        let fixed = if at.is_null() { 0 } else { libc::MAP_FIXED };
        // SAFETY: an anonymous private mapping; with MAP_FIXED, over pages of our own
        // mapping that the caller gives up (replaced at once, with no gap between).
        let p = unsafe {
            libc::mmap(
                at.cast(),
                bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANON | libc::MAP_NORESERVE | fixed,
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

    pub(super) fn map(bytes: usize, _commit: bool) -> *mut u8 {
        anonymous(ptr::null_mut(), bytes)
    }

    pub(super) unsafe fn commit(_p: *mut u8, _bytes: usize) -> bool {
        true
    }

    pub(super) unsafe fn discard(p: *mut u8, bytes: usize) {
        if cfg!(target_os = "linux") {
            // SAFETY: the caller's contract; on Linux MADV_DONTNEED on a private anonymous
            // mapping refills with zeros.
            unsafe { libc::madvise(p.cast(), bytes, libc::MADV_DONTNEED) };
        } else {
            // Elsewhere MADV_DONTNEED may keep the contents; fresh pages replace them.
            anonymous(p, bytes);
        }
    }

    pub(super) unsafe fn unmap(p: *mut u8, bytes: usize) {
        // SAFETY: the caller's contract.
        unsafe { libc::munmap(p.cast(), bytes) };
    }

    /// From /proc/self/statm, read into a stack buffer.
    #[cfg(target_os = "linux")]
    pub(super) fn resident() -> Option<u64> {
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

    #[cfg(target_vendor = "apple")]
    pub(super) fn resident() -> Option<u64> {
        // SAFETY: `info` is a plain C struct that proc_pidinfo fills, up to its size.
        unsafe {
            let mut info: libc::proc_taskinfo = std::mem::zeroed();
            let size = std::mem::size_of::<libc::proc_taskinfo>() as libc::c_int;
            let n = libc::proc_pidinfo(
                libc::getpid(),
                libc::PROC_PIDTASKINFO,
                0,
                (&mut info as *mut libc::proc_taskinfo).cast(),
                size,
            );
            (n == size).then_some(info.pti_resident_size)
        }
    }

    #[cfg(not(any(target_os = "linux", target_vendor = "apple")))]
    pub(super) fn resident() -> Option<u64> {
        None
    }
}

#[cfg(windows)]
mod imp {
    use windows_sys::Win32::System::Memory::{
        VirtualAlloc, VirtualFree, MEM_COMMIT, MEM_RELEASE, MEM_RESERVE, PAGE_READWRITE,
    };

    pub(super) fn map(bytes: usize, commit: bool) -> *mut u8 {
        let kind = if commit {
            MEM_RESERVE | MEM_COMMIT
        } else {
            MEM_RESERVE
        };
        // SAFETY: a fresh region with no address hint; null on failure.
        unsafe { VirtualAlloc(std::ptr::null(), bytes, kind, PAGE_READWRITE).cast() }
    }

    pub(super) unsafe fn commit(p: *mut u8, bytes: usize) -> bool {
        // SAFETY: the caller's contract: inside our reservation.
        unsafe { !VirtualAlloc(p.cast(), bytes, MEM_COMMIT, PAGE_READWRITE).is_null() }
    }

    pub(super) unsafe fn discard(_p: *mut u8, _bytes: usize) {
        // Decommitted pages fault when read, and a reader may still be in them: the pages
        // stay (the tables that discard are at most as large, together, as the one in use).
    }

    pub(super) unsafe fn unmap(p: *mut u8, _bytes: usize) {
        // SAFETY: the caller's contract: `p` is the start of a region from `map`.
        unsafe { VirtualFree(p.cast(), 0, MEM_RELEASE) };
    }

    pub(super) fn resident() -> Option<u64> {
        use windows_sys::Win32::System::ProcessStatus::{
            K32GetProcessMemoryInfo, PROCESS_MEMORY_COUNTERS,
        };
        use windows_sys::Win32::System::Threading::GetCurrentProcess;
        // SAFETY: `c` is a plain C struct that the call fills, up to the size given.
        unsafe {
            let mut c: PROCESS_MEMORY_COUNTERS = std::mem::zeroed();
            let size = std::mem::size_of::<PROCESS_MEMORY_COUNTERS>() as u32;
            (K32GetProcessMemoryInfo(GetCurrentProcess(), &mut c, size) != 0)
                .then_some(c.WorkingSetSize as u64)
        }
    }
}
