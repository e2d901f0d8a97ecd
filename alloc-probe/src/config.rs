//! Settings read from the environment once, without allocating.
//!
//! The allocator path reads them on a thread's first allocation, possibly before `main`, so
//! this uses `getenv` directly: `std::env` would allocate an `OsString` through ourselves.

use std::ffi::CStr;
use std::sync::atomic::{AtomicU8, Ordering::Relaxed};

/// How much the probe tracks (`ALLOC_PROBE_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Every block gets a call site and a class.
    Full,
    /// A Poisson sample over allocated bytes gets sites; per-site figures are estimates.
    Sampled,
    /// Only the exact counters of [`Stats`](crate::Stats).
    Counts,
}

impl Mode {
    fn from_bytes(b: &[u8]) -> Option<Mode> {
        match b {
            b"full" => Some(Mode::Full),
            b"sampled" => Some(Mode::Sampled),
            b"counts" => Some(Mode::Counts),
            _ => None,
        }
    }

    fn code(self) -> u8 {
        match self {
            Mode::Full => 1,
            Mode::Sampled => 2,
            Mode::Counts => 3,
        }
    }
}

const UNSET: u8 = 0;
static MODE: AtomicU8 = AtomicU8::new(UNSET);

/// The value of an environment variable, borrowed from the environment block.
fn env(name: &CStr) -> Option<&'static [u8]> {
    // SAFETY: `name` is NUL-terminated; getenv returns null or a NUL-terminated string in the
    // environment block, which lives as long as nobody calls setenv on that name.
    unsafe {
        let p = libc::getenv(name.as_ptr());
        if p.is_null() {
            None
        } else {
            Some(CStr::from_ptr(p).to_bytes())
        }
    }
}

/// Writes one line to stderr without allocating.
pub(crate) fn warn(parts: &[&[u8]]) {
    for p in parts {
        // SAFETY: writes `p.len()` bytes from a valid slice to fd 2.
        unsafe { libc::write(2, p.as_ptr().cast(), p.len()) };
    }
}

/// Reads the settings; called on each thread's first allocation, acts once.
pub(crate) fn init() {
    if MODE.load(Relaxed) != UNSET {
        return;
    }
    let mode = match env(c"ALLOC_PROBE_MODE") {
        None | Some(b"") => Mode::Counts,
        Some(v) => Mode::from_bytes(v).unwrap_or_else(|| {
            warn(&[
                b"alloc-probe: ALLOC_PROBE_MODE=",
                v,
                b" is not one of full, sampled, counts; using counts\n",
            ]);
            Mode::Counts
        }),
    };
    let _ = MODE.compare_exchange(UNSET, mode.code(), Relaxed, Relaxed);
}

/// The mode in force.
pub fn mode() -> Mode {
    init();
    match MODE.load(Relaxed) {
        1 => Mode::Full,
        2 => Mode::Sampled,
        _ => Mode::Counts,
    }
}
