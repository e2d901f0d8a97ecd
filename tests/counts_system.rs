//! The counting suite on the System allocator.

#[global_allocator]
static ALLOC: alloc_probe::Probe = alloc_probe::Probe::system();

#[path = "suite/counts.rs"]
mod counts;
#[path = "suite/threads.rs"]
mod threads;
