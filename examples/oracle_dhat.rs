//! The oracle workload under dhat-rs (`tests/oracles.rs`): prints dhat-rs's totals for the
//! workload's figures as `total_blocks total_bytes max_bytes curr_blocks curr_bytes`.

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

#[path = "../tests/scenarios/oracle_workload.rs"]
mod workload;

fn main() {
    let _profiler = dhat::Profiler::builder().testing().build();
    workload::run();
    let s = dhat::HeapStats::get();
    println!(
        "{} {} {} {} {}",
        s.total_blocks, s.total_bytes, s.max_bytes, s.curr_blocks, s.curr_bytes
    );
}
