//! The README's demo: profile a small, realistic workload (parse a CSV of orders, aggregate per
//! country, render a summary) with `#[track_allocs]` on its hot functions, print what it
//! allocated and what could have been avoided, and write the report in every format.
//!
//! `cargo run --release --example quickstart`; `quickstart_fixed` is the same workload after
//! acting on this report.

#[global_allocator]
static ALLOC: alloc_probe::Probe = alloc_probe::Probe::system();

#[path = "common/demo.rs"]
#[macro_use]
mod demo;
#[path = "common/orders.rs"]
mod orders;

fn main() {
    let report = profile_stages!("quickstart", orders);
    if let Some(f) = report.function("parse_line") {
        println!("parse_line, line by line (alloc-probe explain):");
        for s in &f.sites {
            println!(
                "  {}:{}: {}: {}",
                s.file,
                s.line,
                s.expr.as_deref().unwrap_or("(no expression found here)"),
                s.verdict
            );
        }
    }
    demo::write_files(&report, &demo::out_dir("quickstart"));
}
