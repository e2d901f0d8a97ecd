//! Settings read from the environment once, without allocating.
//!
//! The allocator path reads them on a thread's first allocation, possibly before `main`, so
//! this uses `getenv` directly: `std::env` would allocate an `OsString` through ourselves.

use std::ffi::CStr;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering::Relaxed};

use crate::probe::Defaults;

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

    /// The mode's name, as `ALLOC_PROBE_MODE` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Full => "full",
            Mode::Sampled => "sampled",
            Mode::Counts => "counts",
        }
    }

    pub(crate) const fn code(self) -> u8 {
        match self {
            Mode::Full => 1,
            Mode::Sampled => 2,
            Mode::Counts => 3,
        }
    }
}

pub(crate) const UNSET: u8 = 0;
pub(crate) const FULL: u8 = 1;
pub(crate) const SAMPLED: u8 = 2;
pub(crate) const COUNTS: u8 = 3;
static MODE: AtomicU8 = AtomicU8::new(UNSET);
static STACK_LIMIT: AtomicU64 = AtomicU64::new(4096);
static SAMPLE_RATE: AtomicU64 = AtomicU64::new(512 * 1024);
static INNER_IS_JEMALLOC: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether the `Probe` wraps jemalloc, so jemalloc's own figures describe our heap.
#[allow(dead_code)] // only read with the `jemalloc` feature
pub(crate) fn inner_is_jemalloc() -> bool {
    INNER_IS_JEMALLOC.load(Relaxed)
}

/// The value of an environment variable, borrowed from the environment block.
pub(crate) fn env(name: &CStr) -> Option<&'static [u8]> {
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

/// Parses a positive whole number, allowing `_` separators.
fn number(v: &[u8]) -> Option<u64> {
    let mut n: u64 = 0;
    let mut digits = 0;
    for &b in v {
        match b {
            b'0'..=b'9' => {
                n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
                digits += 1;
            }
            b'_' => {}
            _ => return None,
        }
    }
    (digits > 0 && n > 0).then_some(n)
}

fn read_number(name: &CStr, var: &[u8], into: &AtomicU64) {
    if let Some(v) = env(name) {
        match number(v) {
            Some(n) => into.store(n, Relaxed),
            None => warn(&[
                b"alloc-probe: ",
                var,
                b"=",
                v,
                b" is not a positive whole number; ignored\n",
            ]),
        }
    }
}

/// Reads the settings once; `default` is the mode the `Probe` was built with. Called by the
/// allocator before its first allocation.
#[cold]
pub(crate) fn init(defaults: Defaults) -> u8 {
    let current = MODE.load(Relaxed);
    if current != UNSET {
        return current;
    }
    let default = defaults.mode;
    SAMPLE_RATE.store(defaults.sample_rate, Relaxed);
    INNER_IS_JEMALLOC.store((defaults.inner_name)().contains("Jemalloc"), Relaxed);
    let mode = match env(c"ALLOC_PROBE_MODE") {
        None | Some(b"") => default,
        Some(v) => Mode::from_bytes(v).unwrap_or_else(|| {
            warn(&[
                b"alloc-probe: ALLOC_PROBE_MODE=",
                v,
                b" is not one of full, sampled, counts; using ",
                default.name().as_bytes(),
                b"\n",
            ]);
            default
        }),
    };
    read_number(
        c"ALLOC_PROBE_STACK_LIMIT",
        b"ALLOC_PROBE_STACK_LIMIT",
        &STACK_LIMIT,
    );
    read_number(
        c"ALLOC_PROBE_SAMPLE_RATE",
        b"ALLOC_PROBE_SAMPLE_RATE",
        &SAMPLE_RATE,
    );
    match MODE.compare_exchange(UNSET, mode.code(), Relaxed, Relaxed) {
        Ok(_) => mode.code(),
        Err(other) => other,
    }
}

/// The mode code in force, reading the settings first if nothing has yet.
#[inline(always)]
pub(crate) fn mode_code(defaults: Defaults) -> u8 {
    let m = MODE.load(Relaxed);
    if m != UNSET {
        m
    } else {
        init(defaults)
    }
}

/// Whether the mode in force is `counts`.
#[inline(always)]
pub(crate) fn counts_only() -> bool {
    MODE.load(Relaxed) == COUNTS
}

/// The largest block that counts as stack-avoidable (`ALLOC_PROBE_STACK_LIMIT`, default 4096).
#[inline]
pub(crate) fn stack_limit() -> u64 {
    STACK_LIMIT.load(Relaxed)
}

/// The mean number of bytes between samples (`ALLOC_PROBE_SAMPLE_RATE`, default 524288).
#[inline]
pub(crate) fn sample_rate() -> u64 {
    SAMPLE_RATE.load(Relaxed)
}

/// The mode in force, if a `Probe` has allocated yet.
pub(crate) fn mode_if_set() -> Option<Mode> {
    match MODE.load(Relaxed) {
        FULL => Some(Mode::Full),
        SAMPLED => Some(Mode::Sampled),
        COUNTS => Some(Mode::Counts),
        _ => None,
    }
}

/// The mode in force. Fixed by the first allocation: `ALLOC_PROBE_MODE` if set, otherwise the
/// mode the `Probe` was built with.
pub fn mode() -> Mode {
    match MODE.load(Relaxed) {
        FULL => Mode::Full,
        SAMPLED => Mode::Sampled,
        COUNTS => Mode::Counts,
        _ => {
            // Panics unless a `Probe` has fixed the mode (`tally::on_installed`).
            crate::measure::ensure_installed();
            mode_if_set().unwrap_or(Mode::Full)
        }
    }
}
