//! Whole-process overhead of alloc-probe next to its peers: `cargo bench -p alloc-probe-bench --bench overhead`.
//!
//! Every configuration is a separate process (one `bench-*` binary per global allocator, see
//! `bench/benches/bin/`) running the same workload (`bench/benches/workload/mod.rs`) on 1 and on 2 threads.
//! The processes run round-robin, so drift in the machine's speed hits every row alike. Each
//! process reports the workload's wall time measured inside it (process start-up and
//! teardown, e.g. dhat writing its profile, are excluded). One markdown table is printed on
//! stdout: the median per configuration and its ratio to `System`; progress and every sample
//! go to stderr.
//!
//! On Linux a run during which other processes used the CPU noticeably (machine-wide busy time
//! from `/proc/stat` minus the run's own CPU time) is discarded and run again, up to
//! `ALLOC_PROBE_BENCH_RETRIES` times (default 10, at most once for dhat), each time once the
//! machine has been idle for half a second or after `ALLOC_PROBE_BENCH_QUIET_WAIT` seconds
//! (default 120); the table's header says how many runs were repeated.
//!
//! Environment:
//! * `ALLOC_PROBE_BENCH_RUNS`: timed runs per configuration (default 9), in each layout;
//! * `ALLOC_PROBE_BENCH_SLOW_RUNS`: timed runs for the slow rows, i.e. dhat (default 3);
//! * `ALLOC_PROBE_BENCH_WORK`: workload rounds per thread (default: the workload's `ROUNDS`);
//! * `ALLOC_PROBE_BENCH_ONLY`: comma-separated row keys to run, e.g. `probe-counts,dhat`
//!   (`system` always runs);
//! * `ALLOC_PROBE_BENCH_OTHER`: another build, for an A/B comparison in one run on the same
//!   machine state: its counts, sampled and full rows (keys `other-counts`, `other-sampled`,
//!   `other-full`) run interleaved with this build's. Either the path of a `bench-probe`
//!   binary (say, the last commit's, copied aside), which runs as given in every layout; or
//!   the directory of another checkout of this repository (`git worktree add ../old REV`),
//!   whose `bench-probe` the bench builds with this one's flags, in each layout, under
//!   `target/bench-other/`, so that both builds are compared layout for layout;
//! * `ALLOC_PROBE_BENCH_LAYOUTS`: how many code layouts to measure (default 1, the binaries as
//!   cargo built them). Where each function lands in the binary moves a whole process's time
//!   by a few percent: on this machine System's own time ranged over 4% across four link
//!   orders of the same code, and `counts` mode's over 6%, more than the differences this
//!   bench is after. With `N` > 1 every `bench-*` binary is linked again `N` times, each with
//!   its functions in another order (lld's `--shuffle-sections`, seeds 1 to `N`, built under
//!   `target/bench-layouts/`), every configuration runs `ALLOC_PROBE_BENCH_RUNS` times in
//!   each layout, and the table gives the median over all of them, followed by each row's
//!   ratio in each layout. The layouts' flags are added to `.cargo/config.toml`'s, so
//!   `RUSTFLAGS` must not be set (it would replace both), and the build must be for the host
//!   (no `--target`).

use std::process::Command;
use std::time::{Duration, Instant};

/// One row of the table: a binary and the environment it runs with.
struct Row {
    /// Short name for `ALLOC_PROBE_BENCH_ONLY`.
    key: &'static str,
    /// Name in the table.
    name: &'static str,
    bin: &'static str,
    env: &'static [(&'static str, &'static str)],
    /// Much slower than the rest: fewer runs and no warm-up.
    slow: bool,
}

/// The rows, in table order. The first is the baseline. Another `Probe` setting is one more
/// entry with its environment, e.g. `("ALLOC_PROBE_SAMPLE_RATE", "65536")`.
const ROWS: &[Row] = &[
    Row {
        key: "system",
        name: "System",
        bin: env!("CARGO_BIN_EXE_bench-system"),
        env: &[],
        slow: false,
    },
    Row {
        key: "forward",
        name: "System behind a wrapper that only forwards",
        bin: env!("CARGO_BIN_EXE_bench-forward"),
        env: &[],
        slow: false,
    },
    Row {
        key: "jemalloc",
        name: "Jemalloc",
        bin: env!("CARGO_BIN_EXE_bench-jemalloc"),
        env: &[],
        slow: false,
    },
    Row {
        key: "stats_alloc",
        name: "stats_alloc",
        bin: env!("CARGO_BIN_EXE_bench-stats-alloc"),
        env: &[],
        slow: false,
    },
    Row {
        key: "dhat",
        name: "dhat (heap profiler running)",
        bin: env!("CARGO_BIN_EXE_bench-dhat"),
        env: &[],
        slow: true,
    },
    Row {
        key: "probe-counts",
        name: "Probe, counts",
        bin: env!("CARGO_BIN_EXE_bench-probe"),
        env: &[("ALLOC_PROBE_MODE", "counts"), NO_REPORT],
        slow: false,
    },
    Row {
        key: "probe-sampled",
        name: "Probe, sampled",
        bin: env!("CARGO_BIN_EXE_bench-probe"),
        env: &[("ALLOC_PROBE_MODE", "sampled"), NO_REPORT],
        slow: false,
    },
    Row {
        key: "probe-full",
        name: "Probe, full",
        bin: env!("CARGO_BIN_EXE_bench-probe"),
        env: &[("ALLOC_PROBE_MODE", "full"), NO_REPORT],
        slow: false,
    },
    Row {
        key: "probe-jemalloc-counts",
        name: "Probe<Jemalloc>, counts",
        bin: env!("CARGO_BIN_EXE_bench-probe-jemalloc"),
        env: &[("ALLOC_PROBE_MODE", "counts"), NO_REPORT],
        slow: false,
    },
];

/// No report at exit: the runs are timed, not inspected.
const NO_REPORT: (&str, &str) = ("ALLOC_PROBE_REPORT", "off");

const THREADS: [usize; 2] = [1, 2];

/// One run of one configuration.
struct Sample {
    /// The workload's wall time, measured inside the process.
    ns: u64,
    /// The workload's result, which must not depend on the allocator.
    checksum: String,
    /// CPU time other processes used while this one ran, in clock ticks, when known.
    others_ticks: Option<u64>,
    /// The process's wall time as the driver saw it, in seconds.
    wall_s: f64,
}

/// Machine-wide busy CPU time in clock ticks (`/proc/stat`: everything but idle and iowait).
fn busy_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let cpu = stat.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<u64> = cpu
        .split_whitespace()
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal ...; guest time is already in user.
    Some(v.iter().take(8).sum::<u64>() - v.get(3)? - v.get(4)?)
}

/// Waits, at most `max`, until the machine has been idle for half a second (other processes
/// used under 5% of one core).
fn wait_until_quiet(max: Duration) {
    let start = Instant::now();
    let step = Duration::from_millis(500);
    loop {
        let Some(before) = busy_ticks() else { return };
        std::thread::sleep(step);
        let Some(after) = busy_ticks() else { return };
        if after.saturating_sub(before) <= 2 || start.elapsed() >= max {
            return;
        }
    }
}

/// Runs one process of `row`, from binary `bin`.
fn run_once(row: &Row, bin: &std::path::Path, threads: usize, work: Option<u64>) -> Sample {
    let mut cmd = Command::new(bin);
    cmd.arg(threads.to_string());
    if let Some(w) = work {
        cmd.arg(w.to_string());
    }
    // Only the row's own settings reach the probe.
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("ALLOC_PROBE_") {
            cmd.env_remove(k);
        }
    }
    for (k, v) in row.env {
        cmd.env(k, v);
    }
    let busy_before = busy_ticks();
    let start = Instant::now();
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
    let wall_s = start.elapsed().as_secs_f64();
    let busy_after = busy_ticks();
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        panic!(
            "{} {threads} failed ({}):\n{stdout}\n{}",
            bin.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut lines = stdout.lines();
    let ns = lines
        .next()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("{}: no time on the first line of:\n{stdout}", bin.display()));
    let checksum = lines.next().unwrap_or_default().to_string();
    let own_ticks: Option<u64> = lines
        .next()
        .and_then(|l| l.strip_prefix("cpu_ticks "))
        .and_then(|t| t.trim().parse().ok());
    let others_ticks = match (busy_before, busy_after, own_ticks) {
        (Some(b), Some(a), Some(own)) => Some(a.saturating_sub(b).saturating_sub(own)),
        _ => None,
    };
    Sample {
        ns,
        checksum,
        others_ticks,
        wall_s,
    }
}

/// Whether other processes used enough CPU during `s` to distort it: more than 30 ms plus 5%
/// of the run's wall time on every core (clock ticks are 10 ms).
fn disturbed(s: &Sample, cores: usize) -> bool {
    s.others_ticks
        .is_some_and(|t| t as f64 > 3.0 + s.wall_s * 100.0 * cores as f64 * 0.05)
}

/// The rows of another build's `bench-probe` (`ALLOC_PROBE_BENCH_OTHER`), if given. For a
/// checkout, `bin` is the checkout: [`binary`] finds each layout's build of it.
fn other_rows() -> &'static [Row] {
    let Ok(path) = std::env::var("ALLOC_PROBE_BENCH_OTHER") else {
        return &[];
    };
    let p = std::path::Path::new(&path);
    assert!(
        p.is_file() || p.join("Cargo.toml").is_file(),
        "ALLOC_PROBE_BENCH_OTHER={path} is neither a binary nor a checkout"
    );
    let bin: &'static str = Box::leak(path.into_boxed_str());
    let row = |key, name, mode| Row {
        key,
        name,
        bin,
        env: Box::leak(Box::new([("ALLOC_PROBE_MODE", mode), NO_REPORT])),
        slow: false,
    };
    Box::leak(Box::new([
        row("other-counts", "other build, counts", "counts"),
        row("other-sampled", "other build, sampled", "sampled"),
        row("other-full", "other build, full", "full"),
    ]))
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

/// One code layout: where this build's `bench-*` binaries are (`None`: as cargo built
/// them), and the other build's `bench-probe` when `ALLOC_PROBE_BENCH_OTHER` is a checkout.
struct Layout {
    dir: Option<std::path::PathBuf>,
    other: Option<std::path::PathBuf>,
}

/// Each code layout, building its binaries first.
fn layouts() -> Vec<Layout> {
    let n = env_num("ALLOC_PROBE_BENCH_LAYOUTS").unwrap_or(1);
    // `target/release/bench-system` -> `target`.
    let target = std::path::Path::new(env!("CARGO_BIN_EXE_bench-system"))
        .ancestors()
        .nth(2)
        .expect("the bench binaries live in target/<profile>/");
    let other_tree = std::env::var_os("ALLOC_PROBE_BENCH_OTHER")
        .map(std::path::PathBuf::from)
        .filter(|p| p.join("Cargo.toml").is_file());
    let other = |seed: Option<u64>| {
        other_tree.as_ref().map(|tree| {
            let dir = target
                .join("bench-other")
                .join(seed.map_or("as-built".to_string(), |s| s.to_string()));
            build(tree, seed, &["--workspace", "--bin", "bench-probe"], &dir);
            dir.join("release").join("bench-probe")
        })
    };
    if n <= 1 {
        return vec![Layout {
            dir: None,
            other: other(None),
        }];
    }
    for var in ["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS"] {
        assert!(
            std::env::var_os(var).is_none(),
            "ALLOC_PROBE_BENCH_LAYOUTS needs {var} unset: cargo would use it instead of \
             .cargo/config.toml's flags and the layout's own"
        );
    }
    (1..=n)
        .map(|seed| {
            let dir = target.join("bench-layouts").join(seed.to_string());
            eprintln!("building layout {seed}/{n} in {}", dir.display());
            build(
                env!("CARGO_MANIFEST_DIR").as_ref(),
                Some(seed),
                &["--bins"],
                &dir,
            );
            Layout {
                dir: Some(dir.join("release")),
                other: other(Some(seed)),
            }
        })
        .collect()
}

/// Builds the bench binaries `what` of the checkout `tree` into `target_dir`, linked in code
/// layout `seed` (`None`: as cargo links them).
fn build(tree: &std::path::Path, seed: Option<u64>, what: &[&str], target_dir: &std::path::Path) {
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args(["build", "--quiet", "--profile", "bench"])
        .args(what)
        .arg("--target-dir")
        .arg(target_dir)
        .current_dir(tree);
    if let Some(seed) = seed {
        // `--config`'s array is joined to the one in `.cargo/config.toml` (frame pointers).
        cmd.arg("--config").arg(format!(
            "build.rustflags=[\"-C\", \"link-arg=-Wl,--shuffle-sections=*={seed}\"]"
        ));
    }
    let status = cmd.status().expect("run cargo");
    assert!(
        status.success(),
        "building {} in layout {seed:?} failed; ALLOC_PROBE_BENCH_LAYOUTS needs a linker with \
         lld's --shuffle-sections (rust-lld, Rust's default on x86_64 Linux)",
        tree.display()
    );
}

/// The binary that runs `row` in layout `layout`.
fn binary(row: &Row, layout: &Layout) -> std::path::PathBuf {
    let built = std::path::Path::new(row.bin);
    if row.key.starts_with("other-") {
        return layout.other.clone().unwrap_or_else(|| built.to_path_buf());
    }
    match &layout.dir {
        Some(dir) => dir.join(built.file_name().expect("a binary's path ends in its name")),
        None => built.to_path_buf(),
    }
}

fn main() {
    let runs = env_num("ALLOC_PROBE_BENCH_RUNS").unwrap_or(9).max(1) as usize;
    let slow_runs = env_num("ALLOC_PROBE_BENCH_SLOW_RUNS").unwrap_or(3).max(1) as usize;
    let work = env_num("ALLOC_PROBE_BENCH_WORK");
    let retries = env_num("ALLOC_PROBE_BENCH_RETRIES").unwrap_or(10);
    let quiet_wait = Duration::from_secs(env_num("ALLOC_PROBE_BENCH_QUIET_WAIT").unwrap_or(120));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let only = std::env::var("ALLOC_PROBE_BENCH_ONLY").ok();
    let rows: Vec<&Row> = ROWS
        .iter()
        .chain(other_rows())
        .enumerate()
        .filter(|(i, r)| {
            *i == 0
                || only
                    .as_deref()
                    .is_none_or(|o| o.split(',').any(|k| k.trim() == r.key))
        })
        .map(|(_, r)| r)
        .collect();

    let layouts = layouts();
    // samples[row][thread index], over all layouts; by_layout[layout][row][thread index]
    let mut samples = vec![[Vec::new(), Vec::new()]; rows.len()];
    let mut by_layout = vec![vec![[Vec::new(), Vec::new()]; rows.len()]; layouts.len()];
    let mut checksums: [Option<String>; 2] = [None, None];

    wait_until_quiet(quiet_wait);
    // Warm-up: one untimed run of every fast configuration (page cache, CPU frequency).
    for layout in &layouts {
        for (ti, &threads) in THREADS.iter().enumerate() {
            for row in rows.iter().filter(|r| !r.slow) {
                let s = run_once(row, &binary(row, layout), threads, work);
                checksums[ti].get_or_insert(s.checksum);
            }
        }
    }

    let (mut reruns, mut kept_disturbed) = (0u64, 0u64);
    let any_slow = rows.iter().any(|r| r.slow);
    let total = if any_slow { runs.max(slow_runs) } else { runs };
    for round in 0..total {
        eprintln!("round {}/{total}", round + 1);
        for (li, layout) in layouts.iter().enumerate() {
            for (ti, &threads) in THREADS.iter().enumerate() {
                for (ri, row) in rows.iter().enumerate() {
                    if round >= if row.slow { slow_runs } else { runs } {
                        continue;
                    }
                    let bin = binary(row, layout);
                    // A slow run is repeated at most once: it takes many seconds.
                    let retries = if row.slow { retries.min(1) } else { retries };
                    let mut tries = 0;
                    let s = loop {
                        let s = run_once(row, &bin, threads, work);
                        if !disturbed(&s, cores) {
                            break s;
                        }
                        eprintln!(
                            "  {:<30} {threads}T {:>9.1} ms  disturbed: others used {} ticks{}",
                            row.name,
                            s.ns as f64 / 1e6,
                            s.others_ticks.unwrap_or(0),
                            if tries < retries { ", again" } else { ", kept" }
                        );
                        if tries == retries {
                            kept_disturbed += 1;
                            break s;
                        }
                        tries += 1;
                        reruns += 1;
                        wait_until_quiet(quiet_wait);
                    };
                    let expected = checksums[ti].get_or_insert_with(|| s.checksum.clone());
                    assert_eq!(
                        &s.checksum, expected,
                        "{} on {threads} threads computed a different result",
                        row.name
                    );
                    eprintln!(
                        "  {:<30} {threads}T {:>9.1} ms  (others: {} ticks){}",
                        row.name,
                        s.ns as f64 / 1e6,
                        s.others_ticks.map_or("?".to_string(), |t| t.to_string()),
                        if layouts.len() > 1 {
                            format!(", layout {}", li + 1)
                        } else {
                            String::new()
                        }
                    );
                    samples[ri][ti].push(s.ns);
                    by_layout[li][ri][ti].push(s.ns);
                }
            }
        }
    }

    let medians: Vec<[f64; 2]> = samples
        .iter_mut()
        .map(|[a, b]| [median(a), median(b)])
        .collect();
    let base = medians[0];
    println!();
    let layout_note = if layouts.len() > 1 {
        format!(
            " in each of {} code layouts (functions in another link order each), pooled",
            layouts.len()
        )
    } else {
        String::new()
    };
    println!(
        "Workload wall time measured inside each process, median of {runs} runs{}{layout_note}, \
         runs interleaved; {cores} cores; ratio = median / System's. \
         {reruns} runs were repeated because other processes used the CPU meanwhile; \
         {kept_disturbed} disturbed runs were kept.",
        if any_slow {
            format!(" ({slow_runs} for dhat)")
        } else {
            String::new()
        }
    );
    // Each thread does the full workload, so on two free cores this is close to 1; near 1.7
    // the two threads shared one physical core (e.g. a VM's vCPUs on hyperthread siblings),
    // which also hides the cost of cache lines the threads share.
    println!(
        "System's 2-thread median / 1-thread median: {:.2} (each thread does the full \
         workload; about 1 when the threads had a core each).",
        base[1] / base[0]
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
    if layouts.len() > 1 {
        print_by_layout(&rows, &mut by_layout);
    }
}

/// Each row's ratio to System in each layout, both measured in that layout.
fn print_by_layout(rows: &[&Row], by_layout: &mut [Vec<[Vec<u64>; 2]>]) {
    println!();
    println!("Ratio to System in each layout (1 thread / 2 threads):");
    println!();
    let heads: Vec<String> = (1..=by_layout.len())
        .map(|l| format!("layout {l}"))
        .collect();
    println!("| allocator | {} |", heads.join(" | "));
    println!("|---|{}", "---:|".repeat(heads.len()));
    let medians: Vec<Vec<[f64; 2]>> = by_layout
        .iter_mut()
        .map(|rows| {
            rows.iter_mut()
                .map(|[a, b]| [median(a), median(b)])
                .collect()
        })
        .collect();
    for (ri, row) in rows.iter().enumerate() {
        let cells: Vec<String> = medians
            .iter()
            .map(|m| format!("{:.2}x / {:.2}x", m[ri][0] / m[0][0], m[ri][1] / m[0][1]))
            .collect();
        println!("| {} | {} |", row.name, cells.join(" | "));
    }
}
