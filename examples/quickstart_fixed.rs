//! The quickstart's workload after acting on its report (see `common/orders_fixed.rs` for
//! each change and the finding behind it). Same input, same output, fewer allocations.
//!
//! `cargo run --release --example quickstart_fixed`

use alloc_probe::measure;

#[global_allocator]
static ALLOC: alloc_probe::Probe = alloc_probe::Probe::system();

#[path = "common/demo.rs"]
mod demo;
#[path = "common/orders_fixed.rs"]
mod orders;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/orders.csv");

fn main() {
    alloc_probe::set_exit_report(false);
    let text = std::fs::read_to_string(DATA).unwrap_or_else(|e| {
        eprintln!("quickstart_fixed: cannot read {DATA}: {e}");
        std::process::exit(2);
    });
    let records = text.lines().count() as u64 - 1;

    let (parsed, parse) = measure(|| orders::parse(&text));
    let (totals, aggregate) = measure(|| orders::aggregate(&parsed));
    let (summary, render) = measure(|| orders::render(&totals));

    println!("{summary}");
    demo::stage_header();
    demo::stage("parse", "record", records, &parse);
    demo::stage("aggregate", "record", records, &aggregate);
    demo::stage("render", "country", totals.len() as u64, &render);
    drop((summary, totals, parsed));

    let report = alloc_probe::report();
    println!("\n{report}");
    demo::write_files(&report, &demo::out_dir("quickstart_fixed"));
}
