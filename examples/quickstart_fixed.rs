//! The quickstart's workload after acting on its report (see `common/orders_fixed.rs` for
//! each change and the finding behind it). Same input, same output, fewer allocations.
//!
//! `cargo run --release --example quickstart_fixed`

#[global_allocator]
static ALLOC: alloc_probe::Probe = alloc_probe::Probe::system();

#[path = "common/demo.rs"]
#[macro_use]
mod demo;
#[path = "common/orders_fixed.rs"]
mod orders;

fn main() {
    let report = profile_stages!("quickstart_fixed", orders);
    demo::write_files(&report, &demo::out_dir("quickstart_fixed"));
}
