//! Overhead bench process: the shared workload under `std::alloc::System`.
#[path = "../workload/mod.rs"]
mod workload;

#[global_allocator]
static ALLOC: std::alloc::System = std::alloc::System;

fn main() {
    workload::bench_main(|| ());
}
