//! Raw threads, for work that must not show in the figures: a thread made by the system
//! directly (`pthread_create`, `CreateThread`) has no Rust runtime state to allocate.

/// Starts a detached thread running `run(arg)`; false if the system refused.
pub(crate) fn spawn(run: fn(usize), arg: usize) -> bool {
    imp::spawn(run, arg)
}

/// Sleeps for `ns` nanoseconds (less if a signal interrupts it), without allocating.
pub(crate) fn sleep(ns: u64) {
    imp::sleep(ns)
}

/// What a new thread runs: a function and its argument, packed in a static by [`spawn`].
/// One at a time: spawns are rare (the trace thread, once), and the slot is taken by the new
/// thread before `spawn` returns another.
struct Start {
    run: std::sync::atomic::AtomicUsize,
    arg: std::sync::atomic::AtomicUsize,
    busy: crate::sys::spin::SpinLock,
}

static START: Start = Start {
    run: std::sync::atomic::AtomicUsize::new(0),
    arg: std::sync::atomic::AtomicUsize::new(0),
    busy: crate::sys::spin::SpinLock::new(),
};

/// Fills [`START`] for a thread about to start; `started` runs it, and releases the slot.
fn prepare(run: fn(usize), arg: usize) {
    use std::sync::atomic::Ordering::Relaxed;
    START.busy.lock();
    START.run.store(run as usize, Relaxed);
    START.arg.store(arg, Relaxed);
}

/// The new thread's side of [`prepare`].
fn started() {
    use std::sync::atomic::Ordering::Relaxed;
    let (run, arg) = (START.run.load(Relaxed), START.arg.load(Relaxed));
    START.busy.unlock();
    // SAFETY: `run` was stored from a `fn(usize)` by `prepare`, under the lock we held.
    let run: fn(usize) = unsafe { std::mem::transmute::<usize, fn(usize)>(run) };
    run(arg)
}

#[cfg(unix)]
mod imp {
    use std::ffi::c_void;

    extern "C" fn entry(_: *mut c_void) -> *mut c_void {
        super::started();
        std::ptr::null_mut()
    }

    pub(super) fn spawn(run: fn(usize), arg: usize) -> bool {
        super::prepare(run, arg);
        // SAFETY: `entry` is a plain extern "C" fn that ignores its argument; the thread is
        // detached and owns nothing.
        unsafe {
            let mut t: libc::pthread_t = std::mem::zeroed();
            if libc::pthread_create(&mut t, std::ptr::null(), entry, std::ptr::null_mut()) != 0 {
                super::START.busy.unlock();
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

    unsafe extern "system" fn entry(_: *mut c_void) -> u32 {
        super::started();
        0
    }

    pub(super) fn spawn(run: fn(usize), arg: usize) -> bool {
        super::prepare(run, arg);
        // SAFETY: `entry` matches the thread start routine and ignores its argument; the
        // handle is closed at once, which leaves the thread running on its own.
        unsafe {
            let h = CreateThread(
                std::ptr::null(),
                0,
                Some(entry),
                std::ptr::null(),
                0,
                std::ptr::null_mut(),
            );
            if h.is_null() {
                super::START.busy.unlock();
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
