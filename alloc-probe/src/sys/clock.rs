//! A cheap monotonic clock for block birth times, converted to nanoseconds at report time.

use std::sync::OnceLock;
use std::time::Instant;

/// Ticks of the cheapest clock: the time-stamp counter on x86-64, nanoseconds elsewhere.
#[inline(always)]
pub(crate) fn ticks() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: RDTSC is available on every x86-64 processor and has no side effects.
        unsafe { core::arch::x86_64::_rdtsc() }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        start().0.elapsed().as_nanos() as u64
    }
}

/// The calibration point: an instant and the ticks read with it.
fn start() -> &'static (Instant, u64) {
    static START: OnceLock<(Instant, u64)> = OnceLock::new();
    START.get_or_init(|| (Instant::now(), ticks_raw()))
}

#[inline(always)]
fn ticks_raw() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        ticks()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        0
    }
}

/// Records the calibration start; called once when tracking begins.
pub(crate) fn init() {
    start();
}

/// Nanoseconds per tick, measured against `Instant` since `init`.
pub(crate) fn ns_per_tick() -> f64 {
    if cfg!(not(target_arch = "x86_64")) {
        return 1.0;
    }
    let (t0, k0) = *start();
    let mut elapsed = t0.elapsed();
    if elapsed.as_millis() < 20 {
        // Too short a baseline for a precise rate: wait a little.
        std::thread::sleep(std::time::Duration::from_millis(20) - elapsed);
        elapsed = t0.elapsed();
    }
    let k = ticks().wrapping_sub(k0).max(1);
    elapsed.as_nanos() as f64 / k as f64
}

/// Nanoseconds since `init` for a tick value.
pub(crate) fn ticks_to_ns(t: u64, rate: f64) -> u64 {
    (t.saturating_sub(start().1) as f64 * rate) as u64
}
