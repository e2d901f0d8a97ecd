//! Overhead bench process: the shared workload under jemalloc (`tikv_jemallocator::Jemalloc`).
#[path = "../workload/mod.rs"]
mod workload;

#[cfg(not(windows))]
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() {
    // jemalloc does not build for Windows.
    if cfg!(windows) {
        eprintln!("jemalloc is not available on Windows");
        std::process::exit(2);
    }
    workload::bench_main(|| ());
}
