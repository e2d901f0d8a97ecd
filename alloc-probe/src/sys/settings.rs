//! The settings, fixed by the probe's first call: the mode, the sample rate, the stack limit
//! and the most stacks kept, from the environment or, where it says nothing, from the `Probe` the program built.
//! Read with `getenv` (see `env`): the first call may come before `main`.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering::Relaxed};

use super::env;

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

    const fn code(self) -> u8 {
        match self {
            Mode::Full => FULL,
            Mode::Sampled => SAMPLED,
            Mode::Counts => COUNTS,
        }
    }
}

/// The settings a `Probe` was built with; the environment overrides them.
#[derive(Clone, Copy)]
pub(crate) struct Defaults {
    pub mode: Mode,
    pub sample_rate: u64,
    /// The most unique stacks kept (`u64::MAX`: no limit but memory).
    pub max_stacks: u64,
    /// The inner allocator's type name, to tell whether jemalloc's figures are ours.
    pub inner_name: fn() -> &'static str,
}

/// The mode in force as a number, for the allocator path: not fixed yet, or a mode.
pub(crate) const UNSET: u8 = 0;
pub(crate) const FULL: u8 = 1;
pub(crate) const SAMPLED: u8 = 2;
pub(crate) const COUNTS: u8 = 3;

static MODE: AtomicU8 = AtomicU8::new(UNSET);
static STACK_LIMIT: AtomicU64 = AtomicU64::new(4096);
static SAMPLE_RATE: AtomicU64 = AtomicU64::new(512 * 1024);
static MAX_STACKS: AtomicU64 = AtomicU64::new(u64::MAX);
static INNER_IS_JEMALLOC: AtomicBool = AtomicBool::new(false);

/// Whether the `Probe` wraps jemalloc, so jemalloc's own figures describe our heap.
#[allow(dead_code)] // only read with the `jemalloc` feature
pub(crate) fn inner_is_jemalloc() -> bool {
    INNER_IS_JEMALLOC.load(Relaxed)
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

fn read_number(name: &std::ffi::CStr, into: &AtomicU64) {
    if let Some(v) = env::var(name) {
        match number(v) {
            Some(n) => into.store(n, Relaxed),
            None => env::warn(&[
                b"alloc-probe: ",
                name.to_bytes(),
                b"=",
                v,
                b" is not a positive whole number; ignored\n",
            ]),
        }
    }
}

/// Fixes the settings, once, and returns the mode; `defaults` are the `Probe`'s. Threads
/// racing here compute the same settings, and the first to store the mode wins.
#[cold]
pub(crate) fn fix(defaults: Defaults) -> u8 {
    let current = MODE.load(Relaxed);
    if current != UNSET {
        return current;
    }
    let default = defaults.mode;
    SAMPLE_RATE.store(defaults.sample_rate, Relaxed);
    MAX_STACKS.store(defaults.max_stacks, Relaxed);
    INNER_IS_JEMALLOC.store((defaults.inner_name)().contains("Jemalloc"), Relaxed);
    let mode = match env::var(c"ALLOC_PROBE_MODE") {
        None | Some(b"") => default,
        Some(v) => Mode::from_bytes(v).unwrap_or_else(|| {
            env::warn(&[
                b"alloc-probe: ALLOC_PROBE_MODE=",
                v,
                b" is not one of full, sampled, counts; using ",
                default.name().as_bytes(),
                b"\n",
            ]);
            default
        }),
    };
    read_number(c"ALLOC_PROBE_STACK_LIMIT", &STACK_LIMIT);
    read_number(c"ALLOC_PROBE_SAMPLE_RATE", &SAMPLE_RATE);
    read_number(c"ALLOC_PROBE_MAX_STACKS", &MAX_STACKS);
    match MODE.compare_exchange(UNSET, mode.code(), Relaxed, Relaxed) {
        Ok(_) => mode.code(),
        Err(other) => other,
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

/// The most unique stacks kept (`ALLOC_PROBE_MAX_STACKS`, default: as many as memory holds).
#[inline]
pub(crate) fn max_stacks() -> u64 {
    MAX_STACKS.load(Relaxed)
}

/// The mode in force, if a `Probe` has fixed it yet.
pub(crate) fn mode() -> Option<Mode> {
    match MODE.load(Relaxed) {
        FULL => Some(Mode::Full),
        SAMPLED => Some(Mode::Sampled),
        COUNTS => Some(Mode::Counts),
        _ => None,
    }
}
