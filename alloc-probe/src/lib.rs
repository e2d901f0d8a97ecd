//! alloc-probe shows where a Rust program allocates on the heap.
//!
//! # Setup
//!
//! Install the probe as the global allocator of a binary, test, bench or example:
//!
//! ```
//! #[global_allocator]
//! static ALLOC: alloc_probe::Probe = alloc_probe::Probe::system();
//!
//! fn main() {
//!     let (v, s) = alloc_probe::measure(|| vec![1u8; 100]);
//!     assert_eq!(s.allocs, 1);
//!     assert_eq!(s.bytes_allocated, 100);
//!     # drop(v);
//! }
//! ```
//!
//! With the `jemalloc` feature, `Probe::new(alloc_probe::Jemalloc)` wraps jemalloc instead of
//! the system allocator, and `jemalloc_stats()` reads jemalloc's own figures.
//!
//! # What is counted
//!
//! * [`stats`]: exact whole-process totals and the exact peak of live bytes.
//! * [`measure`]: the allocations of one closure on the calling thread; calls nest.
//! * [`allocs_per_run`]: Go's `testing.AllocsPerRun`.
//! * [`assert_no_allocs!`] and [`assert_max_allocs!`]: budgets in tests.
//!
//! Every function here panics with a message saying how to install the probe when `Probe` is
//! not the global allocator, rather than returning zeros.
//!
//! # Where, and what could have been avoided
//!
//! In the `full` mode (the default) every block is attributed to its call site and classified:
//! non-escaping (freed before the function that allocated it returned), stack-avoidable
//! (non-escaping, never grown, small), escaped, temporary, leaked. [`report()`] returns a
//! [`Report`] with per-site figures and a verdict with its reason; it prints as a table and
//! writes JSON, pprof, DHAT JSON and flame graphs. The same report is printed and written at
//! exit (`ALLOC_PROBE_REPORT`, `ALLOC_PROBE_DIR`).
//!
//! [`track_allocs`] (feature `instrument`) instruments a function, an `impl` block or a module:
//! per-function calls, allocs/call and bytes/call, classes by exact invocation, the source
//! expression of each allocating line, and per-call budgets.
//!
//! # Environment
//!
//! * `ALLOC_PROBE_MODE=full|sampled|counts` chooses how much is tracked; see [`Mode`].
//! * `ALLOC_PROBE_SAMPLE_RATE`, `ALLOC_PROBE_STACK_LIMIT`: the sampling gap and the largest
//!   stack-avoidable block.
//! * `ALLOC_PROBE_REPORT=off|file|summary|full`, `ALLOC_PROBE_DIR`: the report at exit.
//! * `ALLOC_PROBE_TRACE=1s`: a line per interval on stderr, like `GODEBUG=gctrace=1`.
//!
//! Release builds need debug info (`debug = "limited"`) for files, lines and full function
//! paths (`"line-tables-only"` gives files and lines, and names without paths), and
//! frame pointers (`-C force-frame-pointers=yes`) for cheap, complete stacks; where a function
//! without them breaks the frame chain, the stack is taken again by the DWARF unwinder.
#![deny(missing_docs)]

// The layers, bottom up; each imports only those above it in this list (see docs/design.md).
mod alloc;
mod api;
#[cfg(feature = "cli")]
pub mod cli;
mod counters;
mod process;
mod report;
mod sys;
mod thread;
mod tracking;

#[cfg(feature = "criterion")]
pub use api::criterion;
pub use api::measure::{allocs_per_run, measure, mode, report, stats};
pub use api::probe::Probe;
#[cfg(feature = "testing")]
pub use api::testing;
pub use counters::Stats;
pub use process::set_exit_report;
pub use report::{
    FlameCost, FrameReport, FunctionReport, FunctionSite, MergeOverflow, Report, SiteReport,
    StackReport, TestReport, TrackingCost, SCHEMA as REPORT_SCHEMA,
    SCHEMA_VERSION as REPORT_SCHEMA_VERSION,
};
#[cfg(alloc_probe_jemalloc)]
pub use sys::jemalloc::{jemalloc_stats, Jemalloc, JemallocStats};
pub use sys::settings::Mode;

/// Instruments a function, an `impl` block or an inline module: see the crate docs.
pub use alloc_macros::track_allocs;

#[doc(hidden)]
pub use api::private as __private;
