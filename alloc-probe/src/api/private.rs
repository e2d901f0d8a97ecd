//! Items reached only by the expansions of `#[track_allocs]` and of the assertion macros. Not
//! a public API: it may change in any release, and the macro crate is pinned to this crate's
//! exact version.

pub use super::measure::check_allocs;
pub use super::track::{enter, instrument, Instrumented, ScopeGuard};
pub use crate::tracking::functions::{FnInfo, SourceSite};
