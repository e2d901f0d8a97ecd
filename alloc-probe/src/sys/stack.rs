//! This thread's stack: its bounds, and the registers a walk starts from.

/// Whether this build has frame pointers (see `build.rs`). Without them the frame-pointer
/// register may hold any stack address, and a walk from it would read locals as return
/// addresses: stacks then come from the unwinder alone, and there is no frame test.
pub(crate) const FRAME_POINTERS: bool = cfg!(alloc_probe_frame_pointers);

/// Reads a register by its x86-64 and AArch64 names (0 on other targets).
macro_rules! read_register {
    ($x86_64:literal, $aarch64:literal) => {{
        let v: usize;
        #[cfg(target_arch = "x86_64")]
        // SAFETY: copies a register; no memory access.
        unsafe {
            core::arch::asm!(
                concat!("mov {}, ", $x86_64),
                out(reg) v,
                options(nomem, nostack, preserves_flags)
            )
        };
        #[cfg(target_arch = "aarch64")]
        // SAFETY: copies a register; no memory access.
        unsafe {
            core::arch::asm!(
                concat!("mov {}, ", $aarch64),
                out(reg) v,
                options(nomem, nostack, preserves_flags)
            )
        };
        #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
        {
            v = 0;
        }
        v
    }};
}

/// Reads the stack-pointer register: every frame record a walk may read lies above it.
#[inline(always)]
pub(crate) fn stack_pointer() -> usize {
    read_register!("rsp", "sp")
}

/// Reads the frame-pointer register: with frame pointers, the frame record of the function
/// this is inlined into. A walk may start there only while that function is running: read
/// it in the function that walks (not in one that returns or tail-calls before the walk).
/// Without frame pointers the register holds anything; the walks check what they read.
#[inline(always)]
pub(crate) fn frame_pointer() -> usize {
    read_register!("rbp", "x29")
}

/// This thread's stack bounds `(lo, hi)`, or `(0, 0)` when they cannot be read. glibc
/// allocates to read them (a CPU set, and for the main thread a buffered read of
/// /proc/self/maps), through its own `malloc`.
pub(crate) fn bounds() -> (usize, usize) {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    // SAFETY: pthread_getattr_np fills `attr`, which is destroyed after use; the out-pointers
    // are valid locals.
    unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
            return (0, 0);
        }
        let mut addr: *mut libc::c_void = std::ptr::null_mut();
        let mut size: libc::size_t = 0;
        let ok = libc::pthread_attr_getstack(&attr, &mut addr, &mut size) == 0;
        libc::pthread_attr_destroy(&mut attr);
        if ok {
            return (addr as usize, addr as usize + size);
        }
    }
    #[cfg(target_vendor = "apple")]
    // SAFETY: both calls only read the calling thread's own attributes.
    unsafe {
        let me = libc::pthread_self();
        let hi = libc::pthread_get_stackaddr_np(me) as usize; // the top: stacks grow down
        let size = libc::pthread_get_stacksize_np(me);
        return (hi.saturating_sub(size), hi);
    }
    #[cfg(windows)]
    // SAFETY: writes the calling thread's limits into two locals.
    unsafe {
        let (mut lo, mut hi) = (0usize, 0usize);
        windows_sys::Win32::System::Threading::GetCurrentThreadStackLimits(&mut lo, &mut hi);
        return (lo, hi);
    }
    #[allow(unreachable_code)]
    (0, 0)
}
