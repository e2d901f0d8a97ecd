//! The oracle workload on the plain System allocator, for valgrind's DHAT and heaptrack
//! (`tests/oracles.rs`). Run with `work` to do the work, without to measure start-up alone.

#[path = "../tests/scenarios/oracle_workload.rs"]
mod workload;

fn main() {
    workload::main_with(std::env::args());
}
