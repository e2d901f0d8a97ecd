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
//! the system allocator, and [`jemalloc_stats`] reads jemalloc's own figures.
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
//! # Environment
//!
//! `ALLOC_PROBE_MODE=full|sampled|counts` chooses how much is tracked; see [`Mode`].
#![deny(missing_docs)]

mod blocks;
mod classify;
mod clock;
mod config;
mod functions;
mod guard;
mod hooks;
#[cfg(feature = "jemalloc")]
mod jemalloc;
mod live;
mod local;
mod measure;
mod probe;
mod report;
mod scope;
mod side;
mod sites;
mod stack;
mod stats;
mod symbolize;
mod tally;
mod trace;
mod units;

pub use config::{mode, Mode};
pub use hooks::set_exit_report;
#[cfg(feature = "jemalloc")]
pub use jemalloc::{jemalloc_stats, Jemalloc, JemallocStats};
pub use measure::{allocs_per_run, measure, report, stats};
#[doc(hidden)]
pub use measure::{check_allocs, live_counter};
pub use probe::Probe;
pub use report::{
    flame::FlameCost, FrameReport, FunctionReport, FunctionSite, Report, SiteReport, StackReport,
    TrackingCost, SCHEMA as REPORT_SCHEMA, SCHEMA_VERSION as REPORT_SCHEMA_VERSION,
};
pub use stats::Stats;

/// Instruments a function, an `impl` block or an inline module: see the crate docs.
pub use alloc_macros::track_allocs;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;
