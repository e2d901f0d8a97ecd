//! What happens to the whole process: the report at exit, fork safety, and the live trace,
//! all installed by the probe's first call.

mod exit;
mod fork;
mod trace;

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

pub use exit::set_exit_report;

/// Installs the hooks, once. Runs in the allocator path: nothing here allocates through us
/// (registering them may use libc's own malloc).
pub(crate) fn install() {
    static INSTALLED: AtomicBool = AtomicBool::new(false);
    if INSTALLED.swap(true, Relaxed) {
        return;
    }
    crate::sys::clock::init();
    exit::install();
    fork::install();
    trace::start();
}
