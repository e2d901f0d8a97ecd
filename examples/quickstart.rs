//! The README's demo: profile a small, realistic workload (parse a CSV of orders, aggregate per
//! country, render a summary) and print what it allocated.
//!
//! `cargo run --release --example quickstart`

use std::time::Instant;

use alloc_probe::{allocs_per_run, measure, Stats};

#[global_allocator]
static ALLOC: alloc_probe::Probe = alloc_probe::Probe::system();

#[path = "common/orders.rs"]
mod orders;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/orders.csv");

fn row(stage: &str, per: &str, ops: u64, s: &Stats) {
    let ops = ops.max(1) as f64;
    println!(
        "{stage:<10} {:>8} {:>8} {:>11} {:>10.1} {:>10.1} {:>10}   per {per}",
        s.allocs,
        s.reallocs,
        s.bytes_allocated,
        s.events() as f64 / ops,
        s.bytes_allocated as f64 / ops,
        s.peak_live_bytes,
    );
}

fn main() {
    let start = Instant::now();
    let text = std::fs::read_to_string(DATA).unwrap_or_else(|e| {
        eprintln!("quickstart: cannot read {DATA}: {e}");
        std::process::exit(2);
    });
    let records = text.lines().count() as u64 - 1;

    let (parsed, parse) = measure(|| orders::parse(&text));
    let (totals, aggregate) = measure(|| orders::aggregate(&parsed));
    let (summary, render) = measure(|| orders::render(&totals));

    println!("{summary}");
    println!(
        "{:<10} {:>8} {:>8} {:>11} {:>10} {:>10} {:>10}",
        "stage", "allocs", "reallocs", "bytes", "allocs/op", "B/op", "peak B"
    );
    row("parse", "record", records, &parse);
    row("aggregate", "record", records, &aggregate);
    row("render", "country", totals.len() as u64, &render);

    let line = text.lines().nth(1).unwrap_or_default();
    println!(
        "\nparse_line: {:.1} allocs/op (Go's testing.AllocsPerRun over 1000 runs)",
        allocs_per_run(1000, || {
            std::hint::black_box(orders::parse_line(std::hint::black_box(line)));
        })
    );
    drop((parsed, totals, summary));
    println!("process:    {}", alloc_probe::stats());
    println!("took {:.1} ms", start.elapsed().as_secs_f64() * 1e3);
}
