//! The oracle workload under alloc-probe (`tests/oracles.rs`): prints the workload's figures as
//! `allocs reallocs deallocs bytes_allocated bytes_deallocated peak temporaries`.

#[global_allocator]
static ALLOC: alloc_probe::Probe = alloc_probe::Probe::system();

#[path = "../tests/scenarios/oracle_workload.rs"]
mod workload;

fn temporaries() -> u64 {
    alloc_probe::report()
        .sites()
        .iter()
        .map(|s| s.temporary)
        .sum()
}

fn main() {
    let before = temporaries();
    let ((), s) = alloc_probe::measure(|| {
        workload::run();
    });
    let temporary = temporaries() - before;
    println!(
        "{} {} {} {} {} {} {}",
        s.allocs,
        s.reallocs,
        s.deallocs,
        s.bytes_allocated,
        s.bytes_deallocated,
        s.peak_live_bytes,
        temporary
    );
}
