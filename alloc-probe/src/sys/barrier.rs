//! The process-wide write barrier: a full memory barrier on every thread of the process, in
//! its own instruction stream, paid for by the caller alone (Linux `membarrier`, Windows
//! `FlushProcessWriteBuffers`). The solo writer's plain stores rely on it (see
//! `counters::solo`). macOS has no such call (nor has Wine a working one): there [`register`]
//! says so, no thread becomes the solo writer, and every thread counts the shared way from
//! the start.

#[cfg(any(target_os = "linux", target_os = "android"))]
mod imp {
    const MEMBARRIER_CMD_GLOBAL: libc::c_long = 1;
    const MEMBARRIER_CMD_PRIVATE_EXPEDITED: libc::c_long = 1 << 3;
    const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_long = 1 << 4;

    fn membarrier(cmd: libc::c_long) -> bool {
        // SAFETY: the membarrier system call with no pointer arguments.
        unsafe { libc::syscall(libc::SYS_membarrier, cmd, 0, 0) == 0 }
    }

    pub(crate) fn register() -> bool {
        membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED)
    }

    pub(crate) fn fence_all_threads() {
        if !membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) {
            membarrier(MEMBARRIER_CMD_GLOBAL);
        }
    }
}

#[cfg(windows)]
mod imp {
    use windows_sys::Win32::System::LibraryLoader::{GetModuleHandleA, GetProcAddress};

    /// Always there, but under Wine (up to 8 at least), whose `FlushProcessWriteBuffers`
    /// does nothing: Wine's `ntdll` says it is Wine's by exporting `wine_get_version`.
    pub(crate) fn register() -> bool {
        // SAFETY: NUL-terminated names; ntdll is loaded in every process and never unloaded.
        unsafe {
            let ntdll = GetModuleHandleA(c"ntdll.dll".as_ptr().cast());
            ntdll.is_null() || GetProcAddress(ntdll, c"wine_get_version".as_ptr().cast()).is_none()
        }
    }

    pub(crate) fn fence_all_threads() {
        // SAFETY: no arguments; available since Windows Vista.
        unsafe { windows_sys::Win32::System::Threading::FlushProcessWriteBuffers() };
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android", windows)))]
mod imp {
    pub(crate) fn register() -> bool {
        false
    }

    pub(crate) fn fence_all_threads() {
        // Never reached: without `register`, no thread relies on it.
        std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
    }
}

/// Prepares the fast barrier; false where the system offers none, when no thread may rely on
/// [`fence_all_threads`].
pub(crate) fn register() -> bool {
    imp::register()
}

/// A full memory barrier on every thread of the process. After [`register`] it does not fail
/// (on Linux the expedited command; the global one is the slow, always-available equivalent).
pub(crate) fn fence_all_threads() {
    imp::fence_all_threads()
}
