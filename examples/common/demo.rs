//! What the two demo examples print and write: a Go-style per-stage table, and the report
//! in every format with the command that opens each file.

use std::path::Path;

use alloc_probe::{FlameCost, Report, Stats};

/// The body both demos share: read the shipped orders, run the three stages of `$orders`
/// (a module with `parse`, `aggregate` and `render`) under `measure`, print the summary and
/// the per-stage table, and return the report. A macro, because each module's types borrow
/// differently.
#[macro_export]
macro_rules! profile_stages {
    ($name:literal, $orders:ident) => {{
        // This program prints and writes its own report.
        alloc_probe::set_exit_report(false);
        let data = concat!(env!("CARGO_MANIFEST_DIR"), "/data/orders.csv");
        let text = std::fs::read_to_string(data).unwrap_or_else(|e| {
            eprintln!("{}: cannot read {data}: {e}", $name);
            std::process::exit(2);
        });
        let records = text.lines().count() as u64 - 1;
        let (parsed, parse) = alloc_probe::measure(|| $orders::parse(&text));
        let (totals, aggregate) = alloc_probe::measure(|| $orders::aggregate(&parsed));
        let (summary, render) = alloc_probe::measure(|| $orders::render(&totals));
        println!("{summary}");
        demo::stage_header();
        demo::stage("parse", "record", records, &parse);
        demo::stage("aggregate", "record", records, &aggregate);
        demo::stage("render", "country", totals.len() as u64, &render);
        drop((summary, totals, parsed));
        let report = alloc_probe::report();
        println!("\n{report}");
        report
    }};
}

/// One row of the stage table: totals, then Go's `allocs/op` and `B/op` per record.
pub fn stage(stage: &str, per: &str, ops: u64, s: &Stats) {
    let ops = ops.max(1) as f64;
    println!(
        "{stage:<10} {:>8} {:>8} {:>11} {:>10.2} {:>10.1} {:>10}   per {per}",
        s.allocs,
        s.reallocs,
        s.bytes_allocated,
        s.events() as f64 / ops,
        s.bytes_allocated as f64 / ops,
        s.peak_live_bytes,
    );
}

pub fn stage_header() {
    println!(
        "{:<10} {:>8} {:>8} {:>11} {:>10} {:>10} {:>10}",
        "stage", "allocs", "reallocs", "bytes", "allocs/op", "B/op", "peak B"
    );
}

/// Writes the report as JSON, pprof, DHAT JSON and flame graphs under `dir`, and prints how
/// to open each.
pub fn write_files(r: &Report, dir: &Path) {
    let json = dir.join("report.json");
    let pprof = dir.join("heap.pb.gz");
    let dhat = dir.join("dhat.json");
    let flame = dir.join("flame-bytes.svg");
    let avoidable = dir.join("flame-avoidable.svg");
    let results = [
        ("report.json", r.write_json(&json)),
        ("heap.pb.gz", r.write_pprof(&pprof)),
        ("dhat.json", r.write_dhat(&dhat)),
        (
            "flame-bytes.svg",
            r.write_flamegraph(&flame, FlameCost::Bytes),
        ),
        (
            "flame-avoidable.svg",
            r.write_flamegraph(&avoidable, FlameCost::StackAvoidable),
        ),
    ];
    for (name, res) in &results {
        if let Err(e) = res {
            eprintln!("cannot write {}: {e}", dir.join(name).display());
        }
    }
    println!("\nFiles in {}:", dir.display());
    println!("  alloc-probe top {}", json.display());
    println!(
        "  alloc-probe explain {} --function parse_line",
        json.display()
    );
    println!(
        "  go tool pprof -top -sample_index=alloc_objects {}",
        pprof.display()
    );
    println!("  go tool pprof -http=: {}", pprof.display());
    println!(
        "  {}: load it in Valgrind's dh_view.html (/usr/libexec/valgrind/dh_view.html)",
        dhat.display()
    );
    println!(
        "  {} and {}: open in a browser",
        flame.display(),
        avoidable.display()
    );
}

/// `target/alloc-probe/<name>/` in the workspace (or `$ALLOC_PROBE_DIR/<name>/`).
pub fn out_dir(name: &str) -> std::path::PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let base = std::env::var_os("ALLOC_PROBE_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| workspace.join("target/alloc-probe"));
    base.join(name)
}
