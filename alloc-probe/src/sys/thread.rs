//! Raw threads, for work that must not show in the figures: a thread made by the system
//! directly (`pthread_create`, `CreateThread`) has no Rust runtime state to allocate.

/// Starts a detached thread running `run`; false if the system refused. The function is the
/// thread's one argument: what it needs besides lives in statics of its own.
pub(crate) fn spawn(run: fn()) -> bool {
    imp::spawn(run as *mut std::ffi::c_void)
}

/// Sleeps for `ns` nanoseconds (less if a signal interrupts it), without allocating.
pub(crate) fn sleep(ns: u64) {
    imp::sleep(ns)
}

/// The new thread's side of [`spawn`]: its argument is the function to run.
///
/// # Safety
/// `p` came from a `fn()` cast to a pointer.
unsafe fn started(p: *mut std::ffi::c_void) {
    // SAFETY: the caller's contract; function and data pointers have one size here.
    let run = unsafe { std::mem::transmute::<*mut std::ffi::c_void, fn()>(p) };
    run()
}

#[cfg(unix)]
mod imp {
    use std::ffi::c_void;

    extern "C" fn entry(run: *mut c_void) -> *mut c_void {
        // SAFETY: `spawn` passes a `fn()`.
        unsafe { super::started(run) };
        std::ptr::null_mut()
    }

    pub(super) fn spawn(run: *mut c_void) -> bool {
        // SAFETY: `entry` is a plain extern "C" fn that takes the function to run; the thread
        // is detached and owns nothing.
        unsafe {
            let mut t: libc::pthread_t = std::mem::zeroed();
            if libc::pthread_create(&mut t, std::ptr::null(), entry, run) != 0 {
                return false;
            }
            libc::pthread_detach(t);
        }
        true
    }

    pub(super) fn sleep(ns: u64) {
        let ts = libc::timespec {
            tv_sec: (ns / 1_000_000_000) as libc::time_t,
            tv_nsec: (ns % 1_000_000_000) as libc::c_long,
        };
        // SAFETY: a valid timespec, and a null remainder pointer, which nanosleep allows.
        unsafe { libc::nanosleep(&ts, std::ptr::null_mut()) };
    }
}

#[cfg(windows)]
mod imp {
    use std::ffi::c_void;
    use windows_sys::Win32::Foundation::CloseHandle;
    use windows_sys::Win32::System::Threading::{CreateThread, Sleep};

    unsafe extern "system" fn entry(run: *mut c_void) -> u32 {
        // SAFETY: `spawn` passes a `fn()`.
        unsafe { super::started(run) };
        0
    }

    pub(super) fn spawn(run: *mut c_void) -> bool {
        // SAFETY: `entry` matches the thread start routine and takes the function to run; the
        // handle is closed at once, which leaves the thread running on its own.
        unsafe {
            let h = CreateThread(
                std::ptr::null(),
                0,
                Some(entry),
                run.cast_const(),
                0,
                std::ptr::null_mut(),
            );
            if h.is_null() {
                return false;
            }
            CloseHandle(h);
        }
        true
    }

    pub(super) fn sleep(ns: u64) {
        let ms = ns.div_ceil(1_000_000).min(u64::from(u32::MAX - 1)) as u32;
        // SAFETY: no pointers; `ms` is below INFINITE.
        unsafe { Sleep(ms) };
    }
}
