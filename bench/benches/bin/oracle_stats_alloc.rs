//! The oracle of `tests/oracle_stats_alloc.rs`: runs the shared workload under `stats_alloc`
//! and prints what a `stats_alloc::Region` saw of it.
//!
//! Usage: `oracle-stats-alloc [EXTRA_BOXES]`. Prints `allocations N`, `deallocations N`,
//! `reallocations N`, `net_bytes N`, then what the workload observed of itself (`kept_blocks`,
//! `min_allocs`, `min_reallocs`), one per line.
//!
//! stats_alloc adds only a realloc's growth to `bytes_allocated` (and only its shrinkage to
//! `bytes_deallocated`), while alloc-probe adds the whole new and old sizes; the difference
//! `bytes_allocated - bytes_deallocated` is the same under both conventions, so that is what
//! is compared.
#[path = "../workload/oracle.rs"]
mod oracle;

use std::alloc::System;

use stats_alloc::{Region, StatsAlloc};

#[global_allocator]
static GLOBAL: StatsAlloc<System> = StatsAlloc::system();

fn main() {
    let extra: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("EXTRA_BOXES must be a number"))
        .unwrap_or(0);
    let region = Region::new(&GLOBAL);
    let (kept, observed) = oracle::run(extra);
    let c = region.change();
    let net = c.bytes_allocated as i64 - c.bytes_deallocated as i64;
    println!("allocations {}", c.allocations);
    println!("deallocations {}", c.deallocations);
    println!("reallocations {}", c.reallocations);
    println!("net_bytes {net}");
    println!("kept_blocks {}", kept.blocks());
    println!("min_allocs {}", observed.min_allocs);
    println!("min_reallocs {}", observed.min_reallocs);
    drop(kept);
}
