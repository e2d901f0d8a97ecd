//! Deep bench process: the deep workload under `alloc_probe::Probe` around `System`. The
//! driver chooses the mode with `ALLOC_PROBE_MODE`. With `ALLOC_PROBE_BENCH_REPORT` set, the
//! program calls `report()` once the work is done and prints how long it took and the
//! tracking memory it states.
#[path = "../deep/mod.rs"]
mod deep;

use std::time::Instant;

#[global_allocator]
static ALLOC: alloc_probe::Probe = alloc_probe::Probe::system();

fn main() {
    deep::deep_main(|| {
        if std::env::var_os("ALLOC_PROBE_BENCH_REPORT").is_none() {
            return;
        }
        let start = Instant::now();
        let report = alloc_probe::report();
        let ns = start.elapsed().as_nanos();
        let t = &report.tracking;
        println!("report_ns {ns}");
        println!(
            "tracking_bytes {}",
            t.header_bytes + t.stack_bytes + t.side_bytes
        );
        println!("stacks {}", t.stacks);
    });
}
