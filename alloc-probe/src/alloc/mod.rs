//! The allocator path: what a `Probe`'s `GlobalAlloc` methods do, one file per mode.
//!
//! * `counts`: every event counted, nothing recorded. Its counting functions serve the other
//!   modes too: the quick path, on the thread's own tally outside an update section, and the
//!   general path, inside one.
//! * `sampled`: counts, and records a Poisson sample of the blocks, by address.
//! * `full`: counts, and records every block, in a header in front of it.
//! * `record`: what the last two record about a block at its birth, move and free.
//! * `path`: what each mode implements, and how every mode asks the inner allocator.
//!
//! The path never panics, never takes a lock across an allocation, never allocates through
//! the global allocator (its tables are mapped pages), and never re-enters itself.

pub(crate) mod counts;
pub(crate) mod full;
mod path;
mod record;
pub(crate) mod sampled;

pub(crate) use path::Path;
