//! `cargo alloc-probe`: one heap report for a whole `cargo test`, `cargo nextest run`,
//! `cargo run` or `cargo bench`.
//!
//! It runs the cargo command with the build a profile wants (frame pointers, `debug =
//! "limited"`) in a target directory of its own, `<target>/alloc-probe/build`, so the user's
//! own builds stay cached, as `cargo llvm-cov` does. Every process the command starts that has
//! `Probe` as its global allocator writes its report to `<target>/alloc-probe/processes/`,
//! emptied first, and prints nothing. Then it merges those reports into one, prints its table,
//! writes every file beside it, checks a baseline if asked, and exits with the command's own
//! exit code (or 1 when only the baseline failed; 2 for its own errors).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use super::baseline::Baseline;
use super::diff::Threshold;
use super::input::{self, Size};
use crate::report::{self, Detail, FlameCost, Report, MAX_INPUT};

const USAGE: &str = "\
Runs a cargo command with alloc-probe's build settings, then merges the heap reports of every
process it started (each with `Probe` as its global allocator) into one.

Usage: cargo alloc-probe <test|nextest|run|bench> [OPTIONS] [CARGO ARGS]... [-- ARGS...]

Commands:
  test      cargo test
  nextest   cargo nextest run
  run       cargo run
  bench     cargo bench

Options (before `--`; everything else goes to cargo unchanged):
  --baseline FILE        compare tracked functions' allocs/call and bytes/call, and tests'
                         allocations, with FILE; growth past --max-increase fails the run
  --max-increase LIMIT   allowed growth: relative (5%) or absolute (0); default 0%
  --bless                write the run's figures to the --baseline FILE instead
  --mode MODE            full (default), sampled or counts (ALLOC_PROBE_MODE)
  --max-input-size SIZE  the largest process report read (512M, 2GiB); default 512 MiB
  -h, --help             this text

Files: <target>/alloc-probe/report.json (alloc-probe top, explain, diff), heap.pb.gz
(go tool pprof), dhat.json (DHAT's viewer), flame-bytes.svg, flame-avoidable.svg.
";

/// What was asked, cargo's arguments apart.
struct Options {
    command: &'static str,
    baseline: Option<PathBuf>,
    max_increase: Threshold,
    bless: bool,
    mode: Option<String>,
    max_input_size: Size,
    cargo_args: Vec<OsString>,
}

/// Runs `cargo alloc-probe` on this process's arguments and returns its exit code (or exits
/// with the cargo command's own, which may not fit an [`ExitCode`]).
pub fn main() -> ExitCode {
    let mut args: Vec<OsString> = std::env::args_os().skip(1).collect();
    // cargo runs `cargo-alloc-probe alloc-probe <args>`.
    if args.first().is_some_and(|a| a == "alloc-probe") {
        args.remove(0);
    }
    let opts = match parse(args) {
        Ok(Some(o)) => o,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("cargo-alloc-probe: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&opts) {
        Ok(0) => ExitCode::SUCCESS,
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("cargo-alloc-probe: {e}");
            ExitCode::from(2)
        }
    }
}

fn parse(args: Vec<OsString>) -> Result<Option<Options>, String> {
    let mut it = args.into_iter();
    let command = match it.next() {
        None => return Ok(None),
        Some(c) => match c.to_str() {
            Some("-h" | "--help" | "help") => return Ok(None),
            Some("test") => "test",
            Some("nextest") => "nextest",
            Some("run") => "run",
            Some("bench") => "bench",
            Some(t) if t.starts_with('+') => {
                return Err(format!(
                    "the toolchain goes first: cargo {t} alloc-probe ..."
                ))
            }
            _ => {
                return Err(format!(
                    "unknown command {:?}: expected test, nextest, run or bench (--help)",
                    c.to_string_lossy()
                ))
            }
        },
    };
    let mut o = Options {
        command,
        baseline: None,
        max_increase: Threshold::Relative(0.0),
        bless: false,
        mode: None,
        max_input_size: Size(MAX_INPUT),
        cargo_args: Vec::new(),
    };
    let mut rest = it.peekable();
    while let Some(a) = rest.next() {
        if a == "--" {
            o.cargo_args.push(a);
            o.cargo_args.extend(rest.by_ref());
            break;
        }
        let text = a.to_string_lossy().into_owned();
        let (flag, inline) = match text.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (text.clone(), None),
        };
        let mut value = |name: &str| -> Result<String, String> {
            match inline.clone() {
                Some(v) => Ok(v),
                None => rest
                    .next()
                    .map(|v| v.to_string_lossy().into_owned())
                    .filter(|v| !v.starts_with("--"))
                    .ok_or_else(|| format!("{name} needs a value")),
            }
        };
        match flag.as_str() {
            "--baseline" => o.baseline = Some(PathBuf::from(value("--baseline")?)),
            "--max-increase" => {
                o.max_increase = value("--max-increase")?
                    .parse()
                    .map_err(|e| format!("--max-increase: {e}"))?
            }
            "--bless" => o.bless = true,
            "--mode" => {
                let m = value("--mode")?;
                if !["full", "sampled", "counts"].contains(&m.as_str()) {
                    return Err(format!("--mode {m:?}: expected full, sampled or counts"));
                }
                o.mode = Some(m);
            }
            "--max-input-size" => {
                o.max_input_size = value("--max-input-size")?
                    .parse()
                    .map_err(|e| format!("--max-input-size: {e}"))?
            }
            "-h" | "--help" => return Ok(None),
            _ => o.cargo_args.push(a),
        }
    }
    if o.bless && o.baseline.is_none() {
        return Err("--bless needs --baseline FILE: the file to write".into());
    }
    Ok(Some(o))
}

fn cargo() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// The workspace's target directory, as cargo resolves it.
fn target_dir(cargo_args: &[OsString]) -> Result<PathBuf, String> {
    let mut cmd = Command::new(cargo());
    cmd.args(["metadata", "--format-version", "1", "--no-deps"]);
    // The same workspace as the command's.
    let mut it = cargo_args.iter().take_while(|a| *a != "--");
    while let Some(a) = it.next() {
        if a == "--manifest-path" {
            cmd.arg(a).args(it.next());
        } else if a.to_string_lossy().starts_with("--manifest-path=") {
            cmd.arg(a);
        }
    }
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run cargo metadata: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!(
            "cargo metadata failed: {}",
            err.lines().next().unwrap_or("")
        ));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("cargo metadata's output is not JSON: {e}"))?;
    v["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .ok_or_else(|| "cargo metadata gave no target_directory".into())
}

/// The cargo command, with the probe's build settings and report settings.
fn command(o: &Options, build: &Path, processes: &Path) -> Command {
    let mut cmd = Command::new(cargo());
    let mut config: Vec<String> = Vec::new();
    // Frame pointers make stacks cheap and the frame test possible. RUSTFLAGS, when set,
    // replaces the config's flags, so the flag joins it there; otherwise `--config` joins
    // the config's own array.
    const FLAG: &str = "-Cforce-frame-pointers=yes";
    if let Some(flags) = std::env::var_os("CARGO_ENCODED_RUSTFLAGS") {
        let mut f = flags;
        if !f.is_empty() {
            f.push("\x1f");
        }
        f.push(FLAG);
        cmd.env("CARGO_ENCODED_RUSTFLAGS", f);
    } else if let Some(flags) = std::env::var_os("RUSTFLAGS") {
        let mut f = flags;
        f.push(" ");
        f.push(FLAG);
        cmd.env("RUSTFLAGS", f);
    } else {
        config.push(format!("build.rustflags=[\"{FLAG}\"]"));
    }
    // Files, lines and full function paths in every profile, even one set to strip them.
    for profile in ["dev", "test", "release", "bench"] {
        config.push(format!("profile.{profile}.debug=\"limited\""));
        config.push(format!("profile.{profile}.strip=\"none\""));
    }
    let config = config.iter().flat_map(|c| ["--config", c.as_str()]);
    match o.command {
        // nextest takes cargo's `--config` after its own command (`run`, given or not).
        "nextest" => {
            let args = match o.cargo_args.split_first() {
                Some((run, rest)) if run == "run" => rest,
                _ => &o.cargo_args,
            };
            cmd.args(["nextest", "run"]).args(config).args(args);
        }
        c => {
            cmd.args(config).arg(c).args(&o.cargo_args);
        }
    }
    cmd.env("CARGO_TARGET_DIR", build)
        .env("ALLOC_PROBE_DIR", processes)
        .env("ALLOC_PROBE_REPORT", "file");
    if let Some(m) = &o.mode {
        cmd.env("ALLOC_PROBE_MODE", m);
    }
    cmd
}

fn run(o: &Options) -> Result<i32, String> {
    let out = target_dir(&o.cargo_args)?.join("alloc-probe");
    let build = out.join("build");
    let processes = out.join("processes");
    if processes.exists() {
        std::fs::remove_dir_all(&processes)
            .map_err(|e| format!("{}: cannot empty: {e}", processes.display()))?;
    }
    std::fs::create_dir_all(&processes)
        .map_err(|e| format!("{}: cannot create: {e}", processes.display()))?;

    let status = command(o, &build, &processes)
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    let code = exit_code(status);

    let (files, reports) = read_all(&processes, o.max_input_size);
    if reports.is_empty() {
        if code == 0 {
            eprintln!(
                "cargo-alloc-probe: no process wrote a report: is `alloc_probe::Probe` the \
                 #[global_allocator] of the binaries it ran (see the README)?"
            );
            if o.baseline.is_some() {
                return Err("no report to compare with the baseline".into());
            }
        }
        return Ok(code);
    }
    let mut merged = match Report::merge(&reports) {
        Ok(m) => m,
        // The command's failure is the news: its code, and the line saying why no report.
        Err(e) if code != 0 => {
            eprintln!("cargo-alloc-probe: {}", super::merge::overflow(&files, &e));
            return Ok(code);
        }
        Err(e) => return Err(super::merge::overflow(&files, &e)),
    };
    merged.binary = format!(
        "cargo {} ({} process{})",
        o.command,
        reports.len(),
        if reports.len() == 1 { "" } else { "es" }
    );
    let mut text = String::from("\n");
    let _ = report::write_text(&merged, &mut text, Detail::Summary);
    text.push_str(&write_files(&merged, &out));
    if !merged.frame_test {
        text.push_str(
            "note: some binaries were built without frame pointers: a `target.<triple>.rustflags` \
             setting makes cargo ignore build.rustflags; add -Cforce-frame-pointers=yes there or \
             set RUSTFLAGS\n",
        );
    }
    let testing = matches!(o.command, "test" | "nextest");
    if testing && merged.tests.is_empty() && merged.mode == "full" {
        text.push_str(
            "note: no per-test figures: no stack ran through a libtest test with debug info\n",
        );
    }
    // The table first, whatever the baseline says.
    eprint!("{text}");
    let gate_failed = match &o.baseline {
        None => false,
        Some(path) => match baseline(o, path, &merged, code) {
            Ok(failed) => failed,
            // The command's failure is the news: its code, and the line saying why not.
            Err(e) if code != 0 => {
                eprintln!("cargo-alloc-probe: {e}");
                return Ok(code);
            }
            Err(e) => return Err(e),
        },
    };
    Ok(match (code, gate_failed) {
        (0, true) => 1,
        (c, _) => c,
    })
}

/// Blesses or checks the baseline at `path` with the run's report; whether a figure grew past
/// the limit.
fn baseline(o: &Options, path: &Path, merged: &Report, code: i32) -> Result<bool, String> {
    if merged.mode != "full" {
        return Err(format!(
            "the run was made in {} mode: a baseline needs the exact figures of full mode",
            merged.mode
        ));
    }
    if o.bless {
        if code != 0 {
            return Err(format!(
                "{}: not blessed: the command failed (exit code {code})",
                path.display()
            ));
        }
        Baseline::of(merged).write(path)?;
        eprintln!(
            "baseline {}: {} functions, {} tests written",
            path.display(),
            merged.functions.len(),
            merged.tests.len()
        );
        return Ok(false);
    }
    let check = Baseline::read(path)?.check(merged, o.max_increase);
    let mut text = String::new();
    for n in &check.notes {
        text.push_str(&format!("note: {n}\n"));
    }
    for f in &check.failures {
        text.push_str(&format!("FAIL {f}\n"));
    }
    let failed = !check.failures.is_empty();
    text.push_str(&if failed {
        format!(
            "baseline {}: {} figure{} grew more than {}\n",
            path.display(),
            check.failures.len(),
            if check.failures.len() == 1 { "" } else { "s" },
            o.max_increase
        )
    } else {
        format!(
            "baseline {}: ok, nothing grew more than {}\n",
            path.display(),
            o.max_increase
        )
    });
    eprint!("{text}");
    Ok(failed)
}

/// The command's exit code; on Unix, 128 plus the signal that ended it, as shells say.
fn exit_code(status: std::process::ExitStatus) -> i32 {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return 128 + sig;
        }
    }
    status.code().unwrap_or(1)
}

/// Every report in `dir` of at most `limit` bytes, with its file; one that cannot be read is
/// skipped with a line saying why.
fn read_all(dir: &Path, limit: Size) -> (Vec<PathBuf>, Vec<Report>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return (Vec::new(), Vec::new());
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .filter_map(|p| match input::read(&p, limit) {
            Ok(r) => Some((p, r)),
            Err(e) => {
                eprintln!("cargo-alloc-probe: skipped {e}");
                None
            }
        })
        .unzip()
}

/// Writes the merged report in every format; returns the lines saying where.
fn write_files(r: &Report, dir: &Path) -> String {
    let json = dir.join("report.json");
    let results = [
        (json.clone(), r.write_json(&json)),
        (
            dir.join("heap.pb.gz"),
            r.write_pprof(dir.join("heap.pb.gz")),
        ),
        (dir.join("dhat.json"), r.write_dhat(dir.join("dhat.json"))),
        (
            dir.join("flame-bytes.svg"),
            r.write_flamegraph(dir.join("flame-bytes.svg"), FlameCost::Bytes),
        ),
        (
            dir.join("flame-avoidable.svg"),
            r.write_flamegraph(dir.join("flame-avoidable.svg"), FlameCost::StackAvoidable),
        ),
    ];
    let mut text = format!("\nreport: {}\n", json.display());
    let mut written = Vec::new();
    for (path, res) in results {
        match res {
            Ok(()) => written.push(
                path.file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
            ),
            Err(e) => text.push_str(&format!(
                "cargo-alloc-probe: cannot write {}: {e}\n",
                path.display()
            )),
        }
    }
    text.push_str(&format!(
        "  beside it: {} (alloc-probe top {} [--test NAME])\n",
        written.join(", "),
        json.display()
    ));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<OsString> {
        a.iter().map(OsString::from).collect()
    }

    #[test]
    fn own_options_anywhere_before_the_separator() {
        let o = parse(args(&[
            "test",
            "--release",
            "--baseline=allocs.toml",
            "-p",
            "app",
            "--max-increase",
            "5%",
            "--max-input-size=1G",
            "--",
            "--bless",
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(o.command, "test");
        assert_eq!(o.baseline, Some(PathBuf::from("allocs.toml")));
        assert_eq!(o.max_increase, Threshold::Relative(0.05));
        assert_eq!(o.max_input_size, Size(1 << 30));
        assert!(!o.bless, "after -- it is the test binary's");
        assert_eq!(
            o.cargo_args,
            args(&["--release", "-p", "app", "--", "--bless"])
        );
    }

    #[test]
    fn bad_use_is_one_line() {
        let e = |a: &[&str]| parse(args(a)).err().unwrap();
        assert_eq!(
            e(&["tset"]),
            "unknown command \"tset\": expected test, nextest, run or bench (--help)"
        );
        assert_eq!(
            e(&["test", "--bless"]),
            "--bless needs --baseline FILE: the file to write"
        );
        assert_eq!(e(&["test", "--baseline"]), "--baseline needs a value");
        assert_eq!(
            e(&["test", "--baseline", "--bless"]),
            "--baseline needs a value"
        );
        assert_eq!(
            e(&["+nightly", "test"]),
            "the toolchain goes first: cargo +nightly alloc-probe ..."
        );
        assert!(e(&["test", "--max-increase", "lots"]).starts_with("--max-increase: expected"));
        assert!(e(&["test", "--max-input-size", "lots"]).starts_with("--max-input-size: expected"));
        assert!(parse(args(&["--help"])).unwrap().is_none());
    }
}
