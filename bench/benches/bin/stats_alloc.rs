//! Overhead bench process: the shared workload under `stats_alloc::StatsAlloc<System>`.
#[path = "../workload/mod.rs"]
mod workload;

#[global_allocator]
static ALLOC: stats_alloc::StatsAlloc<std::alloc::System> = stats_alloc::StatsAlloc::system();

fn main() {
    workload::bench_main(|| ());
}
