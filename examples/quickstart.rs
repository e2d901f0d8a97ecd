//! The README's demo: profile a small, realistic workload (parse a CSV of orders, aggregate per
//! country, render a summary) with `#[track_allocs]` on its hot functions, print what it
//! allocated and what could have been avoided, and write the report in every format.
//!
//! `cargo run --release --example quickstart`; `quickstart_fixed` is the same workload after
//! acting on this report.

use alloc_probe::measure;

#[global_allocator]
static ALLOC: alloc_probe::Probe = alloc_probe::Probe::system();

#[path = "common/demo.rs"]
mod demo;
#[path = "common/orders.rs"]
mod orders;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/orders.csv");

fn main() {
    // This program prints and writes its own report.
    alloc_probe::set_exit_report(false);
    let text = std::fs::read_to_string(DATA).unwrap_or_else(|e| {
        eprintln!("quickstart: cannot read {DATA}: {e}");
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
    drop((parsed, totals, summary));

    let report = alloc_probe::report();
    println!("\n{report}");
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
