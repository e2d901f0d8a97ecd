//! The deep bench: real code with deep stacks and many distinct ones, where full mode's cost
//! shows (the overhead bench's stacks are about 6 frames deep). `cargo bench -p alloc-probe-bench --bench deep`.
//!
//! The workload (`bench/benches/deep/`) parses the Rust source of this workspace's dependencies
//! with `syn` (the crates listed in `CORPUS`, from Cargo's own copy of them, up to
//! `ALLOC_PROBE_DEEP_BYTES` bytes, 3.2 MB by default). Each row runs it in a fresh process;
//! the table gives the median over `ALLOC_PROBE_BENCH_RUNS` runs (default 3;
//! `ALLOC_PROBE_BENCH_SLOW_RUNS`, default 1, for dhat-rs and heaptrack) of:
//! * the work's wall time, measured in the process, and its ratio to `System`'s;
//! * the process's peak resident memory (`ru_maxrss`);
//! * for alloc-probe, the tracking memory its report states, the time `report()` takes when
//!   the program calls it, and the time the report at exit adds to the process (building and
//!   writing the JSON) with the JSON's size.
//!
//! Then `full` mode on three more real workloads (serde_json, regex, tokio; see `deep/mod.rs`)
//! beside `System`, with the stacks and tracking memory each leaves: where syn's 190,000
//! stacks stand among programs.
//!
//! Then the cost of one `Box` allocated and freed at recursion depths of 1, 20 and 45 frames
//! (the mean over 2 million pairs), over `System`'s.
//!
//! heaptrack's row runs when `heaptrack` is on the `PATH` (its recording only: the analysis
//! it does later is not timed).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// Crates whose source makes the corpus, in order.
const CORPUS: &[&str] = &["syn", "regex-syntax", "serde", "proc-macro2", "serde_json"];

struct Row {
    name: &'static str,
    bin: &'static str,
    env: &'static [(&'static str, &'static str)],
    /// Run under heaptrack.
    heaptrack: bool,
    /// Reports figures of its own (alloc-probe).
    probe: bool,
    /// Slow (dhat-rs, heaptrack): `ALLOC_PROBE_BENCH_SLOW_RUNS` runs (default 1).
    slow: bool,
}

const SYSTEM: &str = env!("CARGO_BIN_EXE_bench-deep-system");
const PROBE: &str = env!("CARGO_BIN_EXE_bench-deep-probe");
const DHAT: &str = env!("CARGO_BIN_EXE_bench-deep-dhat");

const ROWS: &[Row] = &[
    Row {
        name: "System",
        bin: SYSTEM,
        env: &[],
        heaptrack: false,
        probe: false,
        slow: false,
    },
    Row {
        name: "alloc-probe counts",
        bin: PROBE,
        env: &[("ALLOC_PROBE_MODE", "counts")],
        heaptrack: false,
        probe: true,
        slow: false,
    },
    Row {
        name: "alloc-probe sampled",
        bin: PROBE,
        env: &[("ALLOC_PROBE_MODE", "sampled")],
        heaptrack: false,
        probe: true,
        slow: false,
    },
    Row {
        name: "alloc-probe full",
        bin: PROBE,
        env: &[("ALLOC_PROBE_MODE", "full")],
        heaptrack: false,
        probe: true,
        slow: false,
    },
    Row {
        name: "dhat-rs",
        bin: DHAT,
        env: &[],
        heaptrack: false,
        probe: false,
        slow: true,
    },
    Row {
        name: "heaptrack",
        bin: SYSTEM,
        env: &[],
        heaptrack: true,
        probe: false,
        slow: true,
    },
];

/// What one process printed and used.
#[derive(Default, Clone)]
struct Run {
    work_ns: u64,
    wall_ns: u64,
    max_rss: u64,
    report_ns: Option<u64>,
    tracking: Option<u64>,
    stacks: Option<u64>,
}

/// Runs `cmd` to its end; its output and peak resident memory.
fn run(mut cmd: Command) -> Run {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd.spawn().expect("cannot start a bench process");
    let mut out = String::new();
    let mut err = String::new();
    use std::io::Read;
    let mut stderr = child.stderr.take().unwrap();
    let errs = std::thread::spawn(move || {
        let mut e = String::new();
        let _ = stderr.read_to_string(&mut e);
        e
    });
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    err.push_str(&errs.join().unwrap());
    let (ok, max_rss) = wait_with_peak(&mut child);
    let wall_ns = start.elapsed().as_nanos() as u64;
    assert!(ok, "a bench process failed:\n{out}\n{err}");
    let field = |name: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse().ok())
    };
    Run {
        // heaptrack prints lines of its own first.
        work_ns: out
            .lines()
            .find_map(|l| l.trim().parse().ok())
            .unwrap_or_else(|| panic!("no time in:\n{out}")),
        wall_ns,
        max_rss,
        report_ns: field("report_ns "),
        tracking: field("tracking_bytes "),
        stacks: field("stacks "),
    }
}

fn command(row: &Row, args: &[String]) -> Command {
    let mut cmd = if row.heaptrack {
        let mut c = Command::new("heaptrack");
        let out =
            std::env::temp_dir().join(format!("alloc-probe-deep-heaptrack-{}", std::process::id()));
        c.arg("-o").arg(out).arg(row.bin);
        c
    } else {
        Command::new(row.bin)
    };
    cmd.args(args);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("ALLOC_PROBE_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("ALLOC_PROBE_REPORT", "off");
    for (k, v) in row.env {
        cmd.env(k, v);
    }
    cmd
}

/// `cargo metadata`'s JSON for this workspace: the corpus's index, and the json workload's
/// input.
fn metadata() -> Vec<u8> {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["metadata", "--format-version", "1"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata")
        .stdout
}

/// The corpus: the `.rs` files under each crate's `src/`, sorted, up to `limit` bytes.
fn corpus(meta: &[u8], limit: u64) -> Vec<String> {
    let meta: serde_json::Value = serde_json::from_slice(meta).expect("cargo metadata's JSON");
    let mut files = Vec::new();
    let mut total = 0;
    for name in CORPUS {
        let Some(pkg) = meta["packages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["name"] == *name)
            .max_by_key(|p| p["version"].as_str().map(str::to_string))
        else {
            continue;
        };
        let dir = Path::new(pkg["manifest_path"].as_str().unwrap())
            .parent()
            .unwrap()
            .join("src");
        let mut found = Vec::new();
        walk(&dir, &mut found);
        found.sort();
        for f in found {
            if total >= limit {
                return files;
            }
            total += std::fs::metadata(&f).map_or(0, |m| m.len());
            files.push(f.display().to_string());
        }
    }
    files
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn median(mut v: Vec<u64>) -> u64 {
    v.sort_unstable();
    v[v.len() / 2]
}

fn mib(b: u64) -> String {
    format!("{:.1} MiB", b as f64 / (1 << 20) as f64)
}

/// Waits for `child`: whether it succeeded, and its peak resident memory in bytes (from
/// `wait4`'s `ru_maxrss` where there is one; 0 elsewhere).
#[cfg(unix)]
fn wait_with_peak(child: &mut std::process::Child) -> (bool, u64) {
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: the child's pid, not yet reaped (std's `Child` is not waited on).
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    let ok = pid > 0 && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    // Kilobytes on Linux, bytes on macOS.
    let unit = if cfg!(target_vendor = "apple") {
        1
    } else {
        1024
    };
    (ok, usage.ru_maxrss as u64 * unit)
}

#[cfg(not(unix))]
fn wait_with_peak(child: &mut std::process::Child) -> (bool, u64) {
    (child.wait().is_ok_and(|s| s.success()), 0)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list`
    }
    let runs = std::env::var("ALLOC_PROBE_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3usize)
        .max(1);
    let slow_runs = std::env::var("ALLOC_PROBE_BENCH_SLOW_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1usize)
        .max(1);
    let limit = std::env::var("ALLOC_PROBE_DEEP_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3_200_000);
    let meta = metadata();
    let files = corpus(&meta, limit);
    let bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).map_or(0, |m| m.len()))
        .sum();
    let mut args = vec!["syn".to_string()];
    args.extend(files.iter().cloned());
    let has_heaptrack = Command::new("heaptrack")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    println!(
        "syn::parse_file over {} files, {:.1} MB of Rust source; median of {runs} runs\n",
        files.len(),
        bytes as f64 / 1e6
    );
    println!("| allocator | work | vs System | peak RSS | tracking | stacks | report() | report at exit | JSON |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut system_ns = None;
    for row in ROWS {
        if row.heaptrack && !has_heaptrack {
            continue;
        }
        let n = if row.slow { slow_runs } else { runs };
        let samples: Vec<Run> = (0..n).map(|_| run(command(row, &args))).collect();
        let work = median(samples.iter().map(|r| r.work_ns).collect());
        let rss = median(samples.iter().map(|r| r.max_rss).collect());
        let base = *system_ns.get_or_insert(work);
        let mut cells = vec![
            format!("{:.0} ms", work as f64 / 1e6),
            format!("{:.2}x", work as f64 / base as f64),
            mib(rss),
        ];
        if row.probe {
            // report() called by the program, then the report at exit, each in runs of their own.
            let mut cmd = command(row, &args);
            cmd.env("ALLOC_PROBE_BENCH_REPORT", "1");
            let r = run(cmd);
            let dir = std::env::temp_dir().join(format!("alloc-probe-deep-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            let exit: Vec<u64> = (0..runs)
                .map(|_| {
                    let mut cmd = command(row, &args);
                    cmd.env("ALLOC_PROBE_REPORT", "summary")
                        .env("ALLOC_PROBE_DIR", &dir);
                    run(cmd).wall_ns
                })
                .collect();
            let plain = median(samples.iter().map(|r| r.wall_ns).collect());
            let json: u64 = std::fs::read_dir(&dir)
                .map(|d| {
                    d.flatten()
                        .filter_map(|e| e.metadata().ok())
                        .map(|m| m.len())
                        .max()
                        .unwrap_or(0)
                })
                .unwrap_or(0);
            let _ = std::fs::remove_dir_all(&dir);
            let full = row.env.iter().any(|(_, v)| *v != "counts");
            cells.push(r.tracking.map_or("-".into(), mib));
            cells.push(
                r.stacks
                    .filter(|_| full)
                    .map_or("-".into(), |s| s.to_string()),
            );
            cells.push(
                r.report_ns
                    .map_or("-".into(), |n| format!("{:.2} s", n as f64 / 1e9)),
            );
            cells.push(format!(
                "{:.2} s",
                median(exit).saturating_sub(plain) as f64 / 1e9
            ));
            cells.push(format!("{:.1} MB", json as f64 / 1e6));
        } else {
            cells.extend(["-".into(), "-".into(), "-".into(), "-".into(), "-".into()]);
        }
        println!("| {} | {} |", row.name, cells.join(" | "));
    }

    other_workloads(&meta, &files, runs);

    println!("\nOne Box allocated and freed, by stack depth (mean over 2 million pairs, median of {runs} runs)\n");
    println!("| depth | System | alloc-probe full | added |");
    println!("|---:|---:|---:|---:|");
    let pairs = 2_000_000u64;
    for depth in [1, 20, 45] {
        let args = vec!["boxes".to_string(), depth.to_string(), pairs.to_string()];
        let per_pair = |row: &Row| {
            median(
                (0..runs)
                    .map(|_| run(command(row, &args)).work_ns)
                    .collect(),
            ) as f64
                / pairs as f64
        };
        let s = per_pair(&ROWS[0]);
        let p = per_pair(&ROWS[3]);
        println!("| {depth} | {s:.1} ns | {p:.1} ns | +{:.1} ns |", p - s);
    }
}

/// Full mode on three more real workloads, beside `syn`: where the cost of deep stacks and
/// many distinct ones falls among programs.
fn other_workloads(meta: &[u8], files: &[String], runs: usize) {
    let json = std::env::temp_dir().join(format!("alloc-probe-deep-{}.json", std::process::id()));
    std::fs::write(&json, meta).expect("a temporary file");
    let json = json.display().to_string();
    let sources: Vec<String> = files.iter().take(30).cloned().collect();
    let workloads: [(&str, Vec<String>); 3] = [
        (
            "serde_json: a `cargo metadata` JSON read and written 20 times",
            vec!["json".into(), json.clone()],
        ),
        (
            "regex: 52 patterns compiled and matched over 30 source files",
            [vec!["regex".into()], sources].concat(),
        ),
        (
            "tokio: 20 rounds of 2,000 tasks and a channel, 2 workers",
            vec!["tasks".into()],
        ),
    ];
    println!("\nFull mode on other real workloads (median of {runs} runs)\n");
    println!("| workload | System | alloc-probe full | vs System | stacks | tracking |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (name, args) in workloads {
        let work = |row: &Row| {
            median(
                (0..runs)
                    .map(|_| run(command(row, &args)).work_ns)
                    .collect(),
            )
        };
        let s = work(&ROWS[0]);
        let p = work(&ROWS[3]);
        let mut cmd = command(&ROWS[3], &args);
        cmd.env("ALLOC_PROBE_BENCH_REPORT", "1");
        let r = run(cmd);
        println!(
            "| {name} | {:.0} ms | {:.0} ms | {:.2}x | {} | {} |",
            s as f64 / 1e6,
            p as f64 / 1e6,
            p as f64 / s as f64,
            r.stacks.map_or("-".into(), |n| n.to_string()),
            r.tracking.map_or("-".into(), mib),
        );
    }
    let _ = std::fs::remove_file(&json);
}
