//! Raw threads, for work that must not show in the figures: a thread made by `pthread_create`
//! directly has no Rust runtime state to allocate.

use std::ffi::c_void;

/// Starts a detached thread running `run(arg)`; false if the system refused.
pub(crate) fn spawn(run: extern "C" fn(*mut c_void) -> *mut c_void, arg: usize) -> bool {
    // SAFETY: `run` is a plain extern "C" fn that takes its argument by value in the pointer;
    // the thread is detached and owns nothing.
    unsafe {
        let mut t: libc::pthread_t = std::mem::zeroed();
        if libc::pthread_create(&mut t, std::ptr::null(), run, arg as *mut c_void) != 0 {
            return false;
        }
        libc::pthread_detach(t);
    }
    true
}

/// Sleeps for `ns` nanoseconds (less if a signal interrupts it), without allocating.
pub(crate) fn sleep(ns: u64) {
    let ts = libc::timespec {
        tv_sec: (ns / 1_000_000_000) as libc::time_t,
        tv_nsec: (ns % 1_000_000_000) as libc::c_long,
    };
    // SAFETY: a valid timespec, and a null remainder pointer, which nanosleep allows.
    unsafe { libc::nanosleep(&ts, std::ptr::null_mut()) };
}
