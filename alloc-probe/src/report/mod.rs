//! [`Report`]: a snapshot of everything the probe knows, built on demand. Cold code, which
//! may allocate (under the reentrancy guard).
//!
//! Building one resolves each unique stack's symbols (`symbols`), finds each stack's *site*
//! (its first frame outside `std`, `core`, `alloc` and alloc-probe), classifies its blocks
//! and gives each site a verdict (`classify`), and merges stacks that share a site (`build`).
//! One writer per format: the table (`text`), JSON (`json`), pprof, DHAT JSON and flame
//! graphs; `merge` makes one report of several processes'. A report read from JSON is checked
//! (`check`) before anything indexes into it.

mod build;
mod check;
mod classify;
mod dhat;
mod flame;
mod json;
mod merge;
mod model;
pub(crate) mod names;
mod pprof;
pub(crate) mod symbols;
mod text;
pub(crate) mod units;

pub(crate) use build::{build, sites_of_points};
pub use flame::FlameCost;
#[cfg(feature = "cli")]
pub(crate) use json::{read as read_json_limited, MAX_INPUT};
pub use merge::MergeOverflow;
pub use model::{
    FrameReport, FunctionReport, FunctionSite, Report, SiteReport, StackReport, TestReport,
    TrackingCost, SCHEMA, SCHEMA_VERSION,
};
pub(crate) use text::{write as write_text, Detail};
