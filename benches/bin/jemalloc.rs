//! Overhead bench process: the shared workload under jemalloc (`tikv_jemallocator::Jemalloc`).
#[path = "../workload/mod.rs"]
mod workload;

#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() {
    workload::bench_main(|| ());
}
