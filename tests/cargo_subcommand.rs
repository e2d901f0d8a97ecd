//! `cargo alloc-probe test`, `run` and `nextest` over a fixture crate
//! (`tests/data/fixture`) whose tests allocate known amounts in parallel, one of them leaking
//! and one failing: the merged report, the per-test figures, `top --test`, the baseline gate
//! both ways, and the exit codes. The oracle is the fixture's own arithmetic: `boxes(n)` makes
//! n + 1 blocks, `churn(n)` n more.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[global_allocator]
static ALLOC: alloc_probe::Probe = alloc_probe::Probe::system();

#[path = "support/built.rs"]
mod built;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fixture")
}

/// The fixture's target directory, inside this workspace's, kept between runs.
fn target() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/<test>: the target directory is three up.
    exe.ancestors().nth(3).unwrap().join("fixture")
}

fn cargo_alloc_probe(args: &[&str], pass: bool) -> Output {
    let mut cmd = Command::new(built::cargo_subcommand());
    cmd.arg("alloc-probe")
        .args(args)
        .current_dir(fixture())
        .env("CARGO_TARGET_DIR", target())
        .env("RUST_BACKTRACE", "0")
        .env_remove("ALLOC_PROBE_MODE")
        .env_remove("ALLOC_PROBE_DIR")
        .env_remove("ALLOC_PROBE_REPORT");
    if pass {
        cmd.env("FIXTURE_PASS", "1");
    } else {
        cmd.env_remove("FIXTURE_PASS");
    }
    cmd.output().expect("run cargo-alloc-probe")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn report() -> serde_json::Value {
    let path = target().join("alloc-probe/report.json");
    serde_json::from_slice(&std::fs::read(&path).expect("the merged report")).unwrap()
}

/// (allocs, leaked, leaked bytes) of each test in the merged report, by `binary name`.
fn tests(r: &serde_json::Value) -> Vec<(String, u64, u64, u64)> {
    let mut v: Vec<(String, u64, u64, u64)> = r["tests"]
        .as_array()
        .expect("tests in the report")
        .iter()
        .map(|t| {
            (
                format!(
                    "{} {}",
                    t["binary"].as_str().unwrap(),
                    t["name"].as_str().unwrap()
                ),
                t["allocs"].as_u64().unwrap(),
                t["leaked"].as_u64().unwrap(),
                t["leaked_bytes"].as_u64().unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

/// The tests whose figures the fixture fixes (the failing one also allocates for its panic).
fn known(r: &serde_json::Value) -> Vec<(String, u64, u64, u64)> {
    let mut t = tests(r);
    t.retain(|t| !t.0.ends_with("fails_unless_asked_to_pass"));
    t
}

fn expected() -> Vec<(String, u64, u64, u64)> {
    vec![
        ("fixture tests::three_boxes".into(), 4, 0, 0),
        ("fixture::it hundred_boxes".into(), 101 + 2_000, 0, 0),
        ("fixture::it leaks_a_page".into(), 1 + 3_000, 1, 4096),
        ("fixture::it ten_boxes".into(), 11 + 1_000, 0, 0),
    ]
}

#[test]
fn a_test_run_gives_one_report_per_test_figures_and_a_gate() {
    // The failing test fails the run: cargo test's own exit code.
    let o = cargo_alloc_probe(&["test"], false);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(101), "{err}");
    let r = report();
    assert_eq!(known(&r), expected(), "{err}");
    assert!(tests(&r)
        .iter()
        .any(|t| t.0 == "fixture::it fails_unless_asked_to_pass"));
    // Two test binaries, one report each, merged: the unit test and the three integration
    // tests called the tracked function, 4 + 11 + 101 blocks in all.
    assert_eq!(r["binary"], "cargo test (2 processes)", "{err}");
    let boxes = r["functions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "boxes")
        .expect("boxes tracked");
    assert_eq!(
        (boxes["calls"].as_u64(), boxes["inclusive_allocs"].as_u64()),
        (Some(3), Some(116))
    );
    // One table, with the tests in it; every file beside the report.
    assert_eq!(err.matches("\nTests (").count(), 1, "{err}");
    assert!(err.contains("fixture::it ten_boxes\n"), "{err}");
    for file in [
        "report.json",
        "heap.pb.gz",
        "dhat.json",
        "flame-bytes.svg",
        "flame-avoidable.svg",
    ] {
        assert!(target().join("alloc-probe").join(file).is_file(), "{file}");
    }

    // One test's sites.
    let top = Command::new(built::binary())
        .args(["top", "--test", "ten_boxes"])
        .arg(target().join("alloc-probe/report.json"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&top.stdout);
    assert!(
        text.starts_with("test ten_boxes in fixture::it: 1,011 blocks"),
        "{text}"
    );
    assert!(
        text.contains("src/lib.rs:"),
        "the tracked function's line: {text}"
    );
    assert!(text.contains("tests/it.rs:"), "churn's line: {text}");
    assert!(
        !text.contains("leaks_a_page"),
        "another test's site: {text}"
    );
    let missing = Command::new(built::binary())
        .args(["top", "--test", "no_such_test"])
        .arg(target().join("alloc-probe/report.json"))
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("no test \"no_such_test\" in the report"));

    // The baseline: not blessed from a failed run; blessed, then met, then missed by a
    // lowered figure.
    let dir = target().join("baseline-test");
    std::fs::create_dir_all(&dir).unwrap();
    let baseline = dir.join("allocs.toml");
    let _ = std::fs::remove_file(&baseline);
    let b = baseline.to_str().unwrap();
    let o = cargo_alloc_probe(&["test", "--baseline", b, "--bless"], false);
    assert_eq!(o.status.code(), Some(101), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("not blessed: the command failed"),
        "{}",
        stderr(&o)
    );
    assert!(!baseline.exists());
    let o = cargo_alloc_probe(&["test", "--baseline", b, "--bless"], true);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = std::fs::read_to_string(&baseline).unwrap();
    assert!(
        text.contains("[tests.\"fixture::it\".ten_boxes]\nallocs = 1011\n"),
        "{text}"
    );
    assert!(
        text.contains("[functions.\"fixture::boxes\"]\nallocs_per_call = 38.667\n"),
        "{text}"
    );
    let o = cargo_alloc_probe(&["test", "--baseline", b], true);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(": ok, nothing grew more than 0%"),
        "{}",
        stderr(&o)
    );
    std::fs::write(&baseline, text.replace("allocs = 1011", "allocs = 1000")).unwrap();
    let o = cargo_alloc_probe(&["test", "--baseline", b], true);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    let fails: Vec<&str> = err.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert_eq!(fails.len(), 1, "{err}");
    assert!(
        fails[0].starts_with("FAIL test fixture::it ten_boxes: allocs 1000 → 1011 (+1.1%)"),
        "{err}"
    );
    let o = cargo_alloc_probe(&["test", "--baseline", b, "--max-increase", "2%"], true);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // A broken baseline is one line and exit code 2.
    std::fs::write(&baseline, "[tests.it]\nten_boxes = \"many\"\n").unwrap();
    let o = cargo_alloc_probe(&["test", "--baseline", b], true);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let last = stderr(&o).lines().last().unwrap_or("").to_string();
    assert!(
        last.starts_with("cargo-alloc-probe: ") && last.contains("not an alloc-probe baseline"),
        "{last}"
    );

    // A program: its exit code, and its report alone (the report at exit follows
    // `process::exit`).
    let o = cargo_alloc_probe(&["run", "-q", "--bin", "tool"], true);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let r = report();
    assert_eq!(r["binary"], "cargo run (1 process)");
    assert_eq!(r["functions"][0]["inclusive_allocs"], 6);
    assert!(r.get("tests").is_none(), "a program has no tests");

    // nextest: a process per test, named in its environment; the same figures, merged.
    let o = cargo_alloc_probe(&["nextest", "--no-fail-fast"], false);
    let err = stderr(&o);
    assert_eq!(
        o.status.code(),
        Some(100),
        "nextest's exit code for a failed test: {err}"
    );
    let r = report();
    assert_eq!(known(&r), expected(), "{err}");
    assert_eq!(r["binary"], "cargo nextest (5 processes)", "{err}");
}
