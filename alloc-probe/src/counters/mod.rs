//! Exact counts and the exact peak of live bytes, at a few nanoseconds an event.
//!
//! Each thread counts on its own [`Tally`]: its events, and its share of the live bytes, which
//! keeps the process's peak exact without a shared write per event (see `peak`). While only
//! one thread allocates it is the solo writer, whose updates of shared counters are plain
//! loads and stores (see `solo`); every counter says how it is written ([`Access`]).
//!
//! Files, bottom up: `counter` (one counter type), `event` (one type per event kind),
//! `share` (a thread's share of the live bytes), `tally` (a thread's counters, and the list
//! of them), `peak`, `solo` (the solo writer and its sections), `count` (the general path's
//! count), `totals` (a reading of them all), `stats` (the public figures).

mod count;
mod counter;
mod event;
pub(crate) mod peak;
mod share;
pub(crate) mod solo;
mod stats;
mod tally;
mod totals;

pub(crate) use count::{count, count_failed};
pub(crate) use counter::{Access, Counter};
pub(crate) use event::{Alloc, Dealloc, Event, Realloc};
pub(crate) use solo::{over_limit, Section};
pub use stats::Stats;
#[cfg(feature = "criterion")]
pub(crate) use tally::Counts;
pub(crate) use tally::{publish, Quick, Tally, SHARED, SOLO};
pub(crate) use totals::totals;
