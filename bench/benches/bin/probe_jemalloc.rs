//! Overhead bench process: the shared workload under `alloc_probe::Probe<Jemalloc>`.
//! The driver chooses the mode with `ALLOC_PROBE_MODE`.
#[path = "../workload/mod.rs"]
mod workload;

#[cfg(not(windows))]
#[global_allocator]
static ALLOC: alloc_probe::Probe<alloc_probe::Jemalloc> =
    alloc_probe::Probe::new(alloc_probe::Jemalloc);

fn main() {
    // jemalloc does not build for Windows.
    if cfg!(windows) {
        eprintln!("jemalloc is not available on Windows");
        std::process::exit(2);
    }
    workload::bench_main(|| ());
}
