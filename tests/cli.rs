//! End-to-end runs of the `alloc-probe` binary on reports of a real run.
//!
//! The fixtures tests/data/cli/{base,new}.json are the reports of tests/data/cli/workload.rs
//! (`new` has a regression); `regenerate_fixtures` below rewrites them. The corrupt reports
//! are shared with tests/cli_fuzz.rs, in tests/data/corpus/.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use alloc_probe::Report;

// For regenerating the fixtures, whose child processes run in full mode; the tests themselves
// only count.
#[global_allocator]
static ALLOC: alloc_probe::Probe =
    alloc_probe::Probe::system().with_mode(alloc_probe::Mode::Counts);

#[path = "support/built.rs"]
mod built;
#[path = "data/cli/workload.rs"]
mod workload;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn run(args: &[&str]) -> Output {
    alloc_probe::set_exit_report(false);
    Command::new(built::binary())
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cannot run alloc-probe")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs and expects exit code 0, returning stdout.
fn ok(args: &[&str]) -> String {
    let o = run(args);
    assert_eq!(
        o.status.code(),
        Some(0),
        "alloc-probe {args:?}\nstdout:\n{}\nstderr:\n{}",
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

const BASE: &str = "tests/data/cli/base.json";
const NEW: &str = "tests/data/cli/new.json";

/// Rewrites the fixtures: each variant of the workload runs in a child process of its own (this
/// test binary, running `fixture_child`), so each report holds one run only.
#[test]
#[ignore = "rewrites tests/data/cli/*.json"]
fn regenerate_fixtures() {
    for variant in ["base", "new"] {
        let path = data(&format!("cli/{variant}.json"));
        let status = Command::new(std::env::current_exe().unwrap())
            .args(["--ignored", "--exact", "fixture_child", "--test-threads=1"])
            .env("ALLOC_PROBE_CLI_FIXTURE", variant)
            .env("ALLOC_PROBE_CLI_FIXTURE_OUT", &path)
            .env("ALLOC_PROBE_REPORT", "off")
            .env("ALLOC_PROBE_MODE", "full")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .unwrap();
        assert!(status.success());
        Report::read_json(&path).unwrap();
    }
}

#[test]
#[ignore = "the workload of regenerate_fixtures"]
fn fixture_child() {
    let (Ok(variant), Some(out)) = (
        std::env::var("ALLOC_PROBE_CLI_FIXTURE"),
        std::env::var_os("ALLOC_PROBE_CLI_FIXTURE_OUT"),
    ) else {
        return;
    };
    workload::run(variant == "new");
    let mut r = alloc_probe::report();
    // Small fixtures: the stacks of the workload only, cut below this test, without the test
    // harness's dozens of frames. Sites, functions and totals stay as they were.
    let stacks = r
        .stacks
        .iter()
        .filter_map(|s| {
            let mut frames: Vec<_> = r.frames_of(s).into_iter().cloned().collect();
            if !frames.iter().any(|f| f.file.ends_with("workload.rs")) {
                return None;
            }
            if let Some(i) = frames
                .iter()
                .position(|f| f.function.ends_with("fixture_child"))
            {
                frames.truncate(i + 1);
            }
            Some((frames, s.clone()))
        })
        .collect();
    r.set_stacks(stacks);
    r.write_json(out).unwrap();
}

/// The site column (`file:line`) of each row of the table under `title`.
fn rows(out: &str, title: &str) -> Vec<String> {
    let table = out
        .split(title)
        .nth(1)
        .unwrap_or_else(|| panic!("no {title:?} in\n{out}"));
    table
        .lines()
        .skip(2)
        .take_while(|l| !l.is_empty())
        .map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            words[words.len() - 2].to_string()
        })
        .collect()
}

#[test]
fn top_ranks_sites_and_functions_by_each_cost() {
    let r = Report::read_json(data("cli/base.json")).unwrap();
    for (by, key) in [
        (
            "blocks",
            (|s| s.allocs) as fn(&alloc_probe::SiteReport) -> u64,
        ),
        ("bytes", |s| s.bytes),
        ("avoidable", |s| s.stack_avoidable),
        ("leaked", |s| s.leaked_bytes),
    ] {
        let out = ok(&["top", BASE, "--by", by, "-n", "0"]);
        let mut want: Vec<&alloc_probe::SiteReport> = r
            .sites
            .iter()
            .filter(|s| matches!(by, "blocks" | "bytes") || key(s) > 0)
            .collect();
        want.sort_by(|a, b| {
            key(b)
                .cmp(&key(a))
                .then(b.allocs.cmp(&a.allocs))
                .then_with(|| (&a.file, a.line).cmp(&(&b.file, b.line)))
        });
        let want: Vec<String> = want
            .iter()
            .map(|s| {
                format!(
                    "{}:{}",
                    if s.file.is_empty() { "?" } else { &s.file },
                    s.line
                )
            })
            .collect();
        assert_eq!(rows(&out, "Sites by"), want, "--by {by}:\n{out}");
    }

    let top = |by: &str| ok(&["top", BASE, "--by", by]);
    let first = |out: &str, title: &str| {
        out.split(title)
            .nth(1)
            .unwrap()
            .lines()
            .nth(2)
            .unwrap()
            .to_string()
    };
    // The workload's own costs, by what each ranking is for.
    assert!(top("leaked").contains("tests/data/cli/workload.rs:54 load_config"));
    assert!(first(&top("avoidable"), "Tracked functions by").ends_with("cli::workload::parse_line"));
    assert!(first(&top("blocks"), "Tracked functions by").ends_with("cli::workload::parse_line"));
    let out = top("bytes");
    let render = out
        .lines()
        .find(|l| l.ends_with("cli::workload::render"))
        .unwrap();
    assert_eq!(
        render.split_whitespace().collect::<Vec<_>>()[..4],
        ["1", "208", "6.3", "KiB"],
        "calls, allocs/call, bytes/call: {out}"
    );
    // -n limits each table and says so.
    let out = ok(&["top", BASE, "-n", "2"]);
    assert!(out.contains("Sites by blocks (top 2 of 14)"), "{out}");
    assert_eq!(rows(&out, "Sites by").len(), 2);
}

#[test]
fn explain_a_function_like_go_gcflags_m() {
    let out = ok(&["explain", BASE, "--function", "parse_line"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "tests/data/cli/workload.rs:20: cli::workload::parse_line: 100 calls, 3 allocs/call, 70 B/call",
            "tests/data/cli/workload.rs:21:45: line.split(',').collect() does not escape: stack-avoidable (100/100, 64 B, freed in parse_line)",
            "tests/data/cli/workload.rs:22:14: Box::new(fields[0].parse::<u32>().unwrap_or(0)) does not escape: stack-avoidable (100/100, 4 B, freed in parse_line)",
            // An untracked callee: the runtime saw it, the macro's scan could not list it.
            "tests/data/cli/workload.rs:37: allocation in intern escapes: escapes (outlives intern: freed after it returned 100%)",
        ],
        "{out}"
    );
    // Any ::-suffix of the path names it too; the new version's extra line shows.
    let out = ok(&["explain", NEW, "--function", "workload::parse_line"]);
    assert!(out.contains(
        "tests/data/cli/workload.rs:25:19: format!(\"{}-{}\", fields[0], fields[1]) does not escape: stack-avoidable (100/100, 8 B, freed in parse_line)"
    ), "{out}");
    let out = ok(&["explain", BASE, "--function", "load_config"]);
    assert!(out.contains(
        "tests/data/cli/workload.rs:54:41: String::from(\"threads=4\").into_boxed_str() escapes: leaked (1 blocks, 9 B still live at the report)"
    ), "{out}");
}

#[test]
fn explain_everything() {
    let out = ok(&["explain", BASE]);
    for f in ["parse_line", "render", "load_config"] {
        assert!(
            out.contains(&format!("cli::workload::{f}: ")),
            "{f}:\n{out}"
        );
    }
    // Then every site no tracked function listed, such as the workload's driver.
    let rest = out
        .split("sites outside tracked functions:\n")
        .nth(1)
        .unwrap();
    assert!(
        rest.contains(
            "tests/data/cli/workload.rs:62: allocation in run does not escape: stack-avoidable"
        ),
        "{out}"
    );
    assert!(!rest.contains("workload.rs:22"), "{out}");
}

#[test]
fn diff_gates_on_growth_per_call() {
    // parse_line: 3 → 4 allocs/call (+33.3%), 70 → 78 B/call (+11.4%).
    let o = run(&["diff", BASE, NEW]);
    assert_eq!(o.status.code(), Some(1), "default 5%: {}", stdout(&o));
    let out = stdout(&o);
    assert_eq!(
        out.lines().last().unwrap(),
        "FAIL cli::workload::parse_line: allocs/call 3 → 4 (+33.3%), bytes/call 70 B → 78 B (+11.4%), more than the allowed 5%"
    );
    assert!(
        out.contains("tests/data/cli/workload.rs:25 parse_line"),
        "new site:\n{out}"
    );
    assert!(
        out.contains("gone          9 B    gone  tests/data/cli/workload.rs:54 load_config"),
        "{out}"
    );

    let o = run(&["diff", BASE, NEW, "--max-increase", "20%"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stdout(&o).lines().last().unwrap(),
        "FAIL cli::workload::parse_line: allocs/call 3 → 4 (+33.3%), more than the allowed 20%"
    );
    let out = ok(&["diff", BASE, NEW, "--max-increase", "34%"]);
    assert!(
        out.ends_with("ok: no tracked function's allocs/call or bytes/call grew more than 34%\n")
    );
    // Absolute: at most 8 more bytes and allocations per call.
    ok(&["diff", BASE, NEW, "--max-increase", "8"]);
    assert_eq!(
        run(&["diff", BASE, NEW, "--max-increase", "7"])
            .status
            .code(),
        Some(1)
    );
    // Any growth at all fails with 0; none passes.
    assert_eq!(
        run(&["diff", BASE, NEW, "--max-increase", "0"])
            .status
            .code(),
        Some(1)
    );
    ok(&["diff", BASE, BASE, "--max-increase", "0"]);
    // Shrinking is fine; growing from nothing is not (load_config leaks again).
    let o = run(&["diff", NEW, BASE, "--max-increase", "0%"]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    let fails: Vec<&str> = out.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert_eq!(
        fails,
        ["FAIL cli::workload::load_config: allocs/call 0 → 1 (from 0), bytes/call 0 B → 9 B (from 0), more than the allowed 0%"],
        "{out}"
    );
}

#[test]
fn merge_adds_up() {
    let out = scratch("merged.json");
    let said = ok(&["merge", BASE, BASE, "-o", out.to_str().unwrap()]);
    assert!(said.contains("2 reports merged"), "{said}");
    let base = Report::read_json(data("cli/base.json")).unwrap();
    let merged = Report::read_json(&out).unwrap();
    assert_eq!(merged.stats.allocs, 2 * base.stats.allocs);
    assert_eq!(merged.stats.bytes_allocated, 2 * base.stats.bytes_allocated);
    assert_eq!(merged.sites.len(), base.sites.len());
    for s in &base.sites {
        let m = merged.site(&s.file, s.line).unwrap();
        assert_eq!(
            (m.allocs, m.bytes),
            (2 * s.allocs, 2 * s.bytes),
            "{}:{}",
            s.file,
            s.line
        );
    }
    let (b, m) = (
        base.function("parse_line").unwrap(),
        merged.function("parse_line").unwrap(),
    );
    assert_eq!((m.calls, m.allocs), (2 * b.calls, 2 * b.allocs));
    assert_eq!(m.allocs_per_call, b.allocs_per_call);
    // The merged report reads like any other.
    let top = ok(&["top", out.to_str().unwrap(), "-n", "1"]);
    assert!(top.contains("2,214 allocs"), "{top}");
}

#[test]
fn flamegraph_writes_an_svg_per_cost() {
    for cost in ["blocks", "bytes", "avoidable", "leaked"] {
        let out = scratch(&format!("flame-{cost}.svg"));
        let _ = std::fs::remove_file(&out);
        let said = ok(&[
            "flamegraph",
            BASE,
            "-o",
            out.to_str().unwrap(),
            "--cost",
            cost,
        ]);
        assert_eq!(said, "");
        let svg = std::fs::read_to_string(&out).unwrap();
        assert!(
            svg.contains("<svg") && svg.trim_end().ends_with("</svg>"),
            "{cost}"
        );
    }
    let svg = std::fs::read_to_string(scratch("flame-blocks.svg")).unwrap();
    assert!(svg.contains("parse_line"));
}

/// Exit code 2 and exactly one line on stderr, naming `names`.
fn fails_in_one_line(args: &[&str], names: &str) -> String {
    let o = run(args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    assert!(err.contains(names), "{args:?} should name {names}: {err}");
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
    err
}

/// Every subcommand that reads `file` (with `extra` arguments) fails in one line saying
/// `problem`, and writes nothing.
fn refused_by_every_subcommand(file: &str, extra: &[&str], problem: &str) {
    let out = scratch("never-written.json");
    let out = out.to_str().unwrap();
    for args in [
        &["top", file][..],
        &["explain", file],
        &["diff", file, BASE],
        &["diff", BASE, file],
        &["merge", BASE, file, "-o", out],
        &["flamegraph", file, "-o", out],
    ] {
        let args = [args, extra].concat();
        let err = fails_in_one_line(&args, file);
        assert!(err.contains(problem), "{args:?}: {err}");
    }
    assert!(
        !Path::new(out).exists(),
        "nothing written after a bad input"
    );
}

#[test]
fn unreadable_reports_fail_in_one_line_naming_the_file() {
    for (file, problem) in [
        ("tests/data/corpus/missing.json", "cannot read"),
        ("tests/data/corpus/empty.json", "empty"),
        ("tests/data/corpus/truncated.json", "truncated"),
        ("tests/data/corpus/not-json.txt", "not valid JSON"),
        (
            "tests/data/corpus/wrong-schema.json",
            "not an alloc-probe report",
        ),
        ("tests/data/corpus/newer-version.json", "newer"),
    ] {
        refused_by_every_subcommand(file, &[], problem);
    }
}

#[test]
fn reports_whose_references_do_not_hold_fail_in_one_line() {
    for (file, problem) in [
        (
            "site-past-end.json",
            "stacks[0].site is 9 but the stack has 4 frames",
        ),
        (
            "empty-frames.json",
            "stacks[0].site is 1 but the stack has no frames",
        ),
        (
            "empty-location.json",
            "locations[2] is empty: a machine frame has at least one frame",
        ),
        (
            "frame-past-end.json",
            "locations[5][0] is 99 but there are 8 frames",
        ),
        (
            "call-tree-loop.json",
            "nodes[0] is its own caller through its parents: the call tree has a loop",
        ),
        (
            "unknown-mode.json",
            "mode \"fast\" is not full, sampled or counts",
        ),
    ] {
        let file = format!("tests/data/corpus/{file}");
        refused_by_every_subcommand(&file, &[], &format!("alloc-probe: {file}: {problem}\n"));
    }
    // The same tables, whole: read.
    ok(&["top", "tests/data/corpus/valid-v2.json"]);
}

#[test]
fn reports_past_the_size_limit_fail_in_one_line() {
    // 50 KiB: refused by its size, unread, before or after the subcommand.
    let limit = "alloc-probe: tests/data/cli/base.json: larger than the 40 KiB limit; raise it with --max-input-size\n";
    refused_by_every_subcommand(BASE, &["--max-input-size", "40K"], limit);
    let err = fails_in_one_line(&["--max-input-size=40KiB", "top", BASE], BASE);
    assert_eq!(err, limit);
    ok(&["top", BASE, "--max-input-size", "64K"]);
    let err = fails_in_one_line(&["top", BASE, "--max-input-size", "40000"], BASE);
    assert!(err.contains("larger than the 40000 B limit"), "{err}");
}

/// A device and a pipe, which never end: a device of zeros is refused at its first byte,
/// which no report starts with; a pipe of spaces is read up to the limit, then refused.
#[cfg(unix)]
#[test]
fn endless_inputs_stop_at_the_limit() {
    use std::io::Write;
    use std::process::Stdio;

    alloc_probe::set_exit_report(false);
    // Under a 1 GiB address space: a reader without a bound fails on its own, not the machine.
    let bounded = |args: &[&str]| {
        let mut c = Command::new("sh");
        c.arg("-c")
            .arg("ulimit -v 1048576 && exec \"$0\" \"$@\"")
            .arg(built::binary())
            .args(args);
        c
    };
    let o = bounded(&["top", "/dev/zero"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.starts_with("alloc-probe: /dev/zero: not valid JSON (")
            && err.contains("column 1)")
            && err.lines().count() == 1,
        "{err}"
    );

    let mut child = bounded(&["top", "/dev/stdin", "--max-input-size", "64K"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // Writes until the reader has gone (a broken pipe).
    let writer = std::thread::spawn(move || {
        let chunk = [b' '; 4096];
        let mut written = 0usize;
        while stdin.write_all(&chunk).is_ok() && written < 1 << 30 {
            written += chunk.len();
        }
    });
    let o = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(
        stderr(&o),
        "alloc-probe: /dev/stdin: larger than the 64 KiB limit; raise it with --max-input-size\n"
    );
}

#[test]
fn counts_that_overflow_when_merged_fail_in_one_line() {
    let mut v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data("corpus/valid-counts.json")).unwrap()).unwrap();
    v["stats"]["allocs"] = (u64::MAX - 1).into();
    let (a, b) = (scratch("overflow-a.json"), scratch("overflow-b.json"));
    for f in [&a, &b] {
        std::fs::write(f, serde_json::to_vec(&v).unwrap()).unwrap();
    }
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let out = scratch("overflow-merged.json");
    let _ = std::fs::remove_file(&out);
    // Each alone is a report.
    ok(&["top", a]);
    ok(&["merge", a, "-o", out.to_str().unwrap()]);
    std::fs::remove_file(&out).unwrap();
    let err = fails_in_one_line(&["merge", a, b, "-o", out.to_str().unwrap()], b);
    assert_eq!(
        err,
        format!("alloc-probe: merging {b}: stats.allocs overflows\n")
    );
    assert!(!out.exists(), "nothing written after an overflow");
}

#[test]
fn unwritable_outputs_fail_in_one_line() {
    // A directory, and a path under a regular file: unwritable even for root.
    let dir = scratch("");
    let dir = dir.to_str().unwrap();
    let under_file = format!("{BASE}/out");
    for out in [dir, &under_file] {
        fails_in_one_line(&["merge", BASE, "-o", out], out);
        fails_in_one_line(&["flamegraph", BASE, "-o", out], out);
    }
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &[][..],
        &["top"],
        &["top", BASE, "--by", "allocs"],
        &["top", BASE, "-n", "-1"],
        &["diff", BASE],
        &["diff", BASE, NEW, "--max-increase", "5x"],
        &["merge", BASE],
        &["merge", "-o", "x.json"],
        &["flamegraph", BASE, "--cost", "time", "-o", "x.svg"],
        &["frobnicate"],
    ] {
        let o = run(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        // clap's own message: an error, or the help when no subcommand was given.
        let err = stderr(&o);
        assert!(
            err.starts_with("error: ") || err.contains("Usage:"),
            "{args:?}: {err}"
        );
    }
    assert!(ok(&["--help"]).contains("explain"));
    assert!(ok(&["top", "--help"]).contains("--max-input-size <SIZE>"));
    for size in ["0", "1.5G", "1MB", "lots"] {
        let o = run(&["top", BASE, "--max-input-size", size]);
        assert_eq!(o.status.code(), Some(2), "{size}");
        assert!(
            stderr(&o).starts_with("error: invalid value"),
            "{size}: {}",
            stderr(&o)
        );
    }
    fails_in_one_line(
        &["explain", BASE, "--function", "nope"],
        "no tracked function \"nope\"; tracked: parse_line, render, load_config",
    );
}
