//! `ALLOC_PROBE_TRACE`: one line per interval on stderr while the program runs, and the trace
//! thread never shows up in the program's own figures.

use std::process::Command;

#[path = "support/built.rs"]
mod built;

fn run_oracle(trace: Option<&str>) -> (String, String) {
    let mut cmd = Command::new(built::example("oracle_probe"));
    cmd.env("ALLOC_PROBE_REPORT", "off")
        .env_remove("ALLOC_PROBE_MODE");
    match trace {
        Some(t) => cmd.env("ALLOC_PROBE_TRACE", t),
        None => cmd.env_remove("ALLOC_PROBE_TRACE"),
    };
    let out = cmd.output().unwrap();
    assert!(out.status.success());
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn trace_lines_appear_and_change_nothing() {
    let (quiet, quiet_err) = run_oracle(None);
    assert!(!quiet_err.contains("alloc-probe trace"));
    let (traced, err) = run_oracle(Some("1ms"));
    // The same span, counted exactly, with or without the trace thread running.
    assert_eq!(traced, quiet, "the trace must not change the figures");
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("alloc-probe trace:"))
        .collect();
    assert!(!lines.is_empty(), "no trace lines in:\n{err}");
    for l in &lines {
        for part in [
            " live ",
            " blocks (",
            ", peak ",
            " allocs/s, ",
            " frees/s",
            ", resident ",
        ] {
            assert!(l.contains(part), "{part:?} missing in {l}");
        }
    }
    let (_, bad) = run_oracle(Some("soon"));
    assert!(
        bad.contains("ALLOC_PROBE_TRACE=soon is not an interval"),
        "{bad}"
    );
}
