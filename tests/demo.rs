//! The README's demo stays true: `quickstart` prints its tables and writes every file, and
//! `quickstart_fixed` allocates less for the same output.

use std::process::Command;

#[path = "support/built.rs"]
mod built;

fn run(example: &str, dir: &std::path::Path) -> String {
    let out = Command::new(built::example(example))
        .env("ALLOC_PROBE_DIR", dir)
        .env_remove("ALLOC_PROBE_MODE")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// allocs/op of a stage in the stage table.
fn allocs_per_op(out: &str, stage: &str) -> f64 {
    let line = out
        .lines()
        .find(|l| l.starts_with(stage))
        .unwrap_or_else(|| panic!("no {stage} row in:\n{out}"));
    line.split_whitespace().nth(4).unwrap().parse().unwrap()
}

#[test]
fn quickstart_and_its_fix() {
    let dir = std::env::temp_dir().join(format!("alloc-probe-demo-{}", std::process::id()));
    let before = run("quickstart", &dir);
    let after = run("quickstart_fixed", &dir);
    // Same summary (the first ten lines), fewer allocations in every stage.
    let head = |s: &str| s.lines().take(10).collect::<Vec<_>>().join("\n");
    assert_eq!(head(&before), head(&after));
    for stage in ["parse", "aggregate", "render"] {
        let (b, a) = (allocs_per_op(&before, stage), allocs_per_op(&after, stage));
        assert!(a < b, "{stage}: {b} -> {a}");
    }
    for part in [
        "Tracked functions",
        "Could live on the stack",
        "parse_line, line by line",
        "go tool pprof",
    ] {
        assert!(before.contains(part), "{part:?} missing in:\n{before}");
    }
    for file in [
        "report.json",
        "heap.pb.gz",
        "dhat.json",
        "flame-bytes.svg",
        "flame-avoidable.svg",
    ] {
        for example in ["quickstart", "quickstart_fixed"] {
            let path = dir.join(example).join(file);
            assert!(path.is_file(), "{} was not written", path.display());
        }
    }
    let r = alloc_probe::Report::read_json(dir.join("quickstart/report.json")).unwrap();
    assert!(r.function("parse_line").is_some());
    std::fs::remove_dir_all(dir).unwrap();
}
