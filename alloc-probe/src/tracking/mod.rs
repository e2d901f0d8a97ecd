//! Facts about blocks and calls: where each block was born, and what became of it.
//!
//! Files, bottom up: `arena` (append-only tables of records), `index` (hash indexes of their
//! ids), `tree` (the call tree the stacks share), `capture` (stack walks, the frame test),
//! `points` (allocation stacks and their counters), `header` (a block's record), `side`
//! (records kept by address), `sampler` (which blocks `sampled` mode records), `functions`
//! (tracked functions and their counts), `calls` (a thread's running tracked calls),
//! `tracker` (a thread's tracking state).

mod arena;
pub(crate) mod calls;
pub(crate) mod capture;
pub(crate) mod functions;
pub(crate) mod header;
mod index;
pub(crate) mod points;
pub(crate) mod sampler;
pub(crate) mod side;
pub(crate) mod tracker;
pub(crate) mod tree;
