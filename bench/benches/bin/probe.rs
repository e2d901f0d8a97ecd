//! Overhead bench process: the shared workload under `alloc_probe::Probe` around `System`.
//! The driver chooses the mode with `ALLOC_PROBE_MODE`.
#[path = "../workload/mod.rs"]
mod workload;

#[global_allocator]
static ALLOC: alloc_probe::Probe = alloc_probe::Probe::system();

fn main() {
    workload::bench_main(|| ());
}
