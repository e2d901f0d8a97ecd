//! Functions the C runtime calls for us: at exit, and around `fork`. Registering them may use
//! libc's own `malloc`, never ours.

/// Calls `f` when the process exits through the C runtime (`exit`, or a return from `main`;
/// on Windows, `std::process::exit` ends the process without the C runtime's exit handlers).
pub(crate) fn at_exit(f: extern "C" fn()) {
    // SAFETY: registers a plain `extern "C"` function; the caller's never unwinds.
    unsafe { libc::atexit(f) };
}

/// Calls `before` in the thread that calls `fork` just before it, and `parent` or `child` in
/// that thread just after, in the parent or in the child. Nothing where there is no `fork`.
pub(crate) fn at_fork(before: extern "C" fn(), parent: extern "C" fn(), child: extern "C" fn()) {
    #[cfg(unix)]
    // SAFETY: registers plain `extern "C"` functions; the caller's never unwind.
    unsafe {
        libc::pthread_atfork(Some(before), Some(parent), Some(child))
    };
    #[cfg(not(unix))]
    let _ = (before, parent, child);
}
