//! Items reached only by `#[track_allocs]` expansions. Not a public API: it may change in any
//! release, and the macro crate is pinned to this crate's exact version.

pub use crate::scope::{enter, instrument, FnInfo, Instrumented, ScopeGuard, SourceSite};
