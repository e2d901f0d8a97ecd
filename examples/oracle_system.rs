//! The oracle workload on the plain System allocator, for valgrind's DHAT and heaptrack
//! (`tests/oracles.rs`). Run with `work` to do the work, without to measure start-up alone.

#[path = "../tests/scenarios/oracle_workload.rs"]
mod workload;

/// Runs the workload when the first argument is `work` (the empty run passes `idle`, of the
/// same length, since arguments are allocated too), and prints the checksum the same way
/// either way, so an empty run makes every other allocation a work run makes.
fn main() {
    let work = std::env::args().skip(1).any(|a| a == "work");
    let n = if work { workload::run() } else { 0 };
    println!("{n:020}");
}
