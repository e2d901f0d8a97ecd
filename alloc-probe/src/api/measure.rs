//! The measurement API: whole-process [`stats`], per-closure [`measure`], Go's
//! [`allocs_per_run`], the [`report`], the [`mode`], and the assertion macros.

use std::sync::atomic::Ordering::Relaxed;

use super::probe::INSTALLED;
use crate::counters::{self, Stats};
use crate::sys::settings::{self, Mode};
use crate::thread::{self, Scope};

/// Panics with a clear message unless a `Probe` is the global allocator.
pub(crate) fn ensure_installed() {
    if INSTALLED.load(Relaxed) {
        return;
    }
    // Nothing counted yet: allocate once to find out whether we are installed.
    drop(std::hint::black_box(Box::new(0u8)));
    if !INSTALLED.load(Relaxed) {
        panic!(
            "alloc-probe: `Probe` is not this program's global allocator, so nothing is counted.\n\
             Install it in the binary (or test/bench/example file):\n\n    \
             #[global_allocator]\n    \
             static ALLOC: alloc_probe::Probe = alloc_probe::Probe::system();\n"
        );
    }
}

/// Exact whole-process totals since start-up.
///
/// Each thread keeps its own counters; this reads them all until two readings agree, so the
/// figures are those of one instant. While other threads allocate without pause that may not
/// happen within a few readings: each figure is then still exact at the moment it was read,
/// but they may come from moments a few microseconds apart (and `live_bytes` may then exceed
/// `peak_live_bytes`, which is never taken from such a reading).
///
/// Panics if `Probe` is not the global allocator.
pub fn stats() -> Stats {
    ensure_installed();
    counters::totals()
}

/// A snapshot of everything the probe knows: totals, call sites with their classes, stacks.
/// Any thread may call it at any time; its own allocations are not counted (except in
/// `counts` mode, which has no sites to report).
///
/// Panics if `Probe` is not the global allocator.
pub fn report() -> crate::report::Report {
    ensure_installed();
    crate::report::build()
}

/// Runs `f` and returns its value with the allocations this thread made while it ran.
///
/// Other threads' allocations are not included, however busy they are. Calls nest: an inner
/// `measure` sees only its own closure, the outer one sees both. In the result, `live_*` are
/// the net growth during the closure and `peak_live_bytes` the largest net growth of this
/// thread's live bytes at any moment in it.
///
/// Panics if `Probe` is not the global allocator.
pub fn measure<T>(f: impl FnOnce() -> T) -> (T, Stats) {
    ensure_installed();
    let slot = thread::slot().expect(
        "alloc-probe: measure() cannot run in a thread-local destructor after this thread's \
         counters were released",
    );
    // Closed when dropped: also when `f` panics, which gives an enclosing scope (an outer
    // `measure` or tracked call) its high-water back.
    let scope = Scope::open(slot);
    let start = slot.tally().counts();
    let value = f();
    let end = slot.tally().counts();
    let start_net = start.bytes_allocated.wrapping_sub(start.bytes_deallocated);
    let peak = scope.high_water().wrapping_sub(start_net);
    let peak = if (peak as i64) < 0 { 0 } else { peak };
    (value, end.since(&start, peak))
}

/// Go's `testing.AllocsPerRun`: calls `f` once to warm up, then `runs` times, and returns the
/// mean number of heap allocation events (allocs plus reallocs) per call on this thread.
///
/// Unlike Go, which truncates to a whole number, the mean is exact.
pub fn allocs_per_run(runs: u32, mut f: impl FnMut()) -> f64 {
    ensure_installed();
    f();
    if runs == 0 {
        return 0.0;
    }
    let ((), s) = measure(|| {
        for _ in 0..runs {
            f();
        }
    });
    s.events() as f64 / f64::from(runs)
}

/// The mode in force. Fixed by the first allocation: `ALLOC_PROBE_MODE` if set, otherwise the
/// mode the `Probe` was built with.
///
/// Panics if `Probe` is not the global allocator.
pub fn mode() -> Mode {
    settings::mode().unwrap_or_else(|| {
        ensure_installed();
        settings::mode().unwrap_or(Mode::Full)
    })
}

/// Backs the assertion macros: panics when `s` shows more than `max` allocation events.
#[track_caller]
pub fn check_allocs(max: u64, s: &Stats, expr: &str) {
    if s.events() > max {
        let loc = std::panic::Location::caller();
        let expected = if max == 0 {
            "none".to_string()
        } else {
            format!("at most {max}")
        };
        panic!(
            "{expr} made {} heap allocation{} at {}:{}, expected {expected} \
             ({} allocs + {} reallocs, {} bytes)",
            s.events(),
            if s.events() == 1 { "" } else { "s" },
            loc.file(),
            loc.line(),
            s.allocs,
            s.reallocs,
            s.bytes_allocated,
        );
    }
}

/// Asserts that evaluating an expression makes no heap allocation on this thread, and returns
/// its value.
///
/// ```should_panic
/// # #[global_allocator]
/// # static ALLOC: alloc_probe::Probe = alloc_probe::Probe::system();
/// let v = alloc_probe::assert_no_allocs!(vec![1, 2, 3]); // panics: 1 allocation
/// ```
#[macro_export]
macro_rules! assert_no_allocs {
    ($e:expr $(,)?) => {
        $crate::assert_max_allocs!(0, $e)
    };
}

/// Asserts that evaluating an expression makes at most `max` heap allocation events (allocs
/// plus reallocs) on this thread, and returns its value.
///
/// ```
/// # #[global_allocator]
/// # static ALLOC: alloc_probe::Probe = alloc_probe::Probe::system();
/// let s = alloc_probe::assert_max_allocs!(1, String::from("one allocation"));
/// ```
#[macro_export]
macro_rules! assert_max_allocs {
    ($max:expr, $e:expr $(,)?) => {{
        let (__alloc_probe_value, __alloc_probe_stats) = $crate::measure(|| $e);
        $crate::__private::check_allocs(
            ($max) as u64,
            &__alloc_probe_stats,
            concat!("`", stringify!($e), "`"),
        );
        __alloc_probe_value
    }};
}
