//! Whole-process overhead of alloc-probe next to its peers: `cargo bench --bench overhead`.
//!
//! Every configuration is a separate process (one `bench-*` binary per global allocator, see
//! `benches/bin/`) running the same workload (`benches/workload/mod.rs`) on 1 and on 2 threads.
//! The processes run round-robin, so drift in the machine's speed hits every row alike. Each
//! process reports the workload's wall time measured inside it (process start-up and
//! teardown, e.g. dhat writing its profile, are excluded). One markdown table is printed on
//! stdout: the median per configuration and its ratio to `System`; progress and every sample
//! go to stderr.
//!
//! Environment:
//! * `ALLOC_PROBE_BENCH_RUNS`: timed runs per configuration (default 9);
//! * `ALLOC_PROBE_BENCH_SLOW_RUNS`: timed runs for the slow rows, i.e. dhat (default 3);
//! * `ALLOC_PROBE_BENCH_WORK`: workload rounds per thread (default: the workload's `ROUNDS`);
//! * `ALLOC_PROBE_BENCH_ONLY`: comma-separated row names to run (`System` always runs).

use std::process::Command;

/// One row of the table: a binary and the environment it runs with.
struct Row {
    name: &'static str,
    bin: &'static str,
    env: &'static [(&'static str, &'static str)],
    /// Much slower than the rest: fewer runs and no warm-up.
    slow: bool,
}

/// The rows, in table order. The first is the baseline. Future `Probe` modes are one more
/// entry each, e.g. `("ALLOC_PROBE_MODE", "full")`.
const ROWS: &[Row] = &[
    Row {
        name: "System",
        bin: env!("CARGO_BIN_EXE_bench-system"),
        env: &[],
        slow: false,
    },
    Row {
        name: "Jemalloc",
        bin: env!("CARGO_BIN_EXE_bench-jemalloc"),
        env: &[],
        slow: false,
    },
    Row {
        name: "stats_alloc",
        bin: env!("CARGO_BIN_EXE_bench-stats-alloc"),
        env: &[],
        slow: false,
    },
    Row {
        name: "dhat (heap profiler running)",
        bin: env!("CARGO_BIN_EXE_bench-dhat"),
        env: &[],
        slow: true,
    },
    Row {
        name: "Probe, counts",
        bin: env!("CARGO_BIN_EXE_bench-probe"),
        env: &[("ALLOC_PROBE_MODE", "counts")],
        slow: false,
    },
    Row {
        name: "Probe<Jemalloc>, counts",
        bin: env!("CARGO_BIN_EXE_bench-probe-jemalloc"),
        env: &[("ALLOC_PROBE_MODE", "counts")],
        slow: false,
    },
];

const THREADS: [usize; 2] = [1, 2];

/// Runs one process; returns the workload's wall time in ns and its checksum line.
fn run_once(row: &Row, threads: usize, work: Option<u64>) -> (u64, String) {
    let mut cmd = Command::new(row.bin);
    cmd.arg(threads.to_string());
    if let Some(w) = work {
        cmd.arg(w.to_string());
    }
    cmd.env_remove("ALLOC_PROBE_MODE");
    for (k, v) in row.env {
        cmd.env(k, v);
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", row.bin));
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        panic!(
            "{} {threads} failed ({}):\n{stdout}\n{}",
            row.bin,
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut lines = stdout.lines();
    let ns = lines
        .next()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("{}: no time on the first line of:\n{stdout}", row.bin));
    let checksum = lines.next().unwrap_or_default().to_string();
    (ns, checksum)
}

fn env_num(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    Some(
        v.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v} is not a number")),
    )
}

fn median(v: &mut [u64]) -> f64 {
    v.sort_unstable();
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2] as f64
    } else {
        (v[n / 2 - 1] as f64 + v[n / 2] as f64) / 2.0
    }
}

fn main() {
    let runs = env_num("ALLOC_PROBE_BENCH_RUNS").unwrap_or(9).max(1) as usize;
    let slow_runs = env_num("ALLOC_PROBE_BENCH_SLOW_RUNS").unwrap_or(3).max(1) as usize;
    let work = env_num("ALLOC_PROBE_BENCH_WORK");
    let only = std::env::var("ALLOC_PROBE_BENCH_ONLY").ok();
    let rows: Vec<&Row> = ROWS
        .iter()
        .enumerate()
        .filter(|(i, r)| {
            *i == 0
                || only
                    .as_deref()
                    .is_none_or(|o| o.split(',').any(|n| n.trim() == r.name))
        })
        .map(|(_, r)| r)
        .collect();

    // samples[row][thread index]
    let mut samples = vec![[Vec::new(), Vec::new()]; rows.len()];
    let mut checksums: [Option<String>; 2] = [None, None];

    // Warm-up: one untimed run of every fast configuration (page cache, CPU frequency).
    for (ti, &threads) in THREADS.iter().enumerate() {
        for row in rows.iter().filter(|r| !r.slow) {
            let (_, sum) = run_once(row, threads, work);
            checksums[ti].get_or_insert(sum);
        }
    }

    let total = runs.max(slow_runs);
    for round in 0..total {
        eprintln!("round {}/{total}", round + 1);
        for (ti, &threads) in THREADS.iter().enumerate() {
            for (ri, row) in rows.iter().enumerate() {
                if round >= if row.slow { slow_runs } else { runs } {
                    continue;
                }
                let (ns, sum) = run_once(row, threads, work);
                let expected = checksums[ti].get_or_insert_with(|| sum.clone());
                assert_eq!(
                    &sum, expected,
                    "{} on {threads} threads computed a different result",
                    row.name
                );
                eprintln!("  {:<30} {threads}T {:>9.1} ms", row.name, ns as f64 / 1e6);
                samples[ri][ti].push(ns);
            }
        }
    }

    let medians: Vec<[f64; 2]> = samples
        .iter_mut()
        .map(|[a, b]| [median(a), median(b)])
        .collect();
    let base = medians[0];
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!();
    println!(
        "Workload wall time measured inside each process, median of {runs} runs \
         ({slow_runs} for dhat), runs interleaved; {cores} cores; ratio = median / System's."
    );
    println!();
    println!("| allocator | 1 thread median | ratio | 2 threads median | ratio |");
    println!("|---|---:|---:|---:|---:|");
    for (row, m) in rows.iter().zip(&medians) {
        println!(
            "| {} | {:.1} ms | {:.2}x | {:.1} ms | {:.2}x |",
            row.name,
            m[0] / 1e6,
            m[0] / base[0],
            m[1] / 1e6,
            m[1] / base[1],
        );
    }
}
