//! A tracked call still running when the program calls `process::exit` counts in the report
//! at exit, marked as running, with what it allocated until then. The oracle is the program's
//! own arithmetic: 50 calls that return, each allocating `PER_CALL` blocks, then one that
//! allocates `BEFORE_EXIT` blocks and a vector in itself and one block in a tracked callee,
//! which exits.

use std::hint::black_box;
use std::path::Path;
use std::process::Command;

use alloc_probe::track_allocs;

#[global_allocator]
static ALLOC: alloc_probe::Probe = alloc_probe::Probe::system();

const PER_CALL: u64 = 3;
const BEFORE_EXIT: u64 = 5;
const CHILD: &str = "EXIT_IN_CALL_CHILD";

#[track_allocs]
fn step(last: bool) {
    for i in 0..PER_CALL {
        black_box(Box::new(i));
    }
    if last {
        // One block for the vector, one for each string.
        let kept: Vec<String> = (0..BEFORE_EXIT - PER_CALL)
            .map(|i| black_box(i.to_string()))
            .collect();
        inner_exit(kept);
    }
}

#[track_allocs]
fn inner_exit(kept: Vec<String>) {
    black_box(Box::new(7u64));
    black_box(&kept);
    std::process::exit(0);
}

#[test]
#[cfg_attr(
    windows,
    ignore = "on Windows, std::process::exit ends the process without the report at exit"
)]
fn a_call_running_at_exit_counts_as_running() {
    if std::env::var_os(CHILD).is_some() {
        for n in 0..51 {
            step(n == 50);
        }
        unreachable!("the last call exits");
    }
    for mode in ["full", "sampled", "counts"] {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("exit_in_call-{mode}"));
        let _ = std::fs::remove_dir_all(&dir);
        let out = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "a_call_running_at_exit_counts_as_running",
                "--nocapture",
            ])
            .env(CHILD, "1")
            .env("ALLOC_PROBE_MODE", mode)
            .env("ALLOC_PROBE_REPORT", "file")
            .env("ALLOC_PROBE_DIR", &dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "{mode}: {out:?}");
        let file = std::fs::read_dir(&dir)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let r = alloc_probe::Report::read_json(&file).unwrap();
        let f = |name: &str| {
            r.functions
                .iter()
                .find(|f| f.name == name)
                .unwrap_or_else(|| panic!("{mode}: no {name} in {:#?}", r.functions))
                .clone()
        };
        let step = f("step");
        assert_eq!((step.calls, step.in_flight), (51, 1), "{mode}: {step:#?}");
        let own = 50 * PER_CALL + BEFORE_EXIT + 1;
        assert_eq!(
            (step.allocs, step.inclusive_allocs),
            (own, own + 1),
            "{mode}: {step:#?}"
        );
        let inner = f("inner_exit");
        assert_eq!(
            (
                inner.calls,
                inner.in_flight,
                inner.allocs,
                inner.inclusive_allocs
            ),
            (1, 1, 1, 1),
            "{mode}: {inner:#?}"
        );
        assert_eq!(inner.bytes, 8, "{mode}: {inner:#?}");
    }
}

#[track_allocs]
fn reports_from_inside() -> alloc_probe::Report {
    black_box(Box::new(1u64));
    black_box(Box::new(2u64));
    alloc_probe::report()
}

#[test]
fn a_report_made_inside_a_call_counts_it_as_running() {
    let r = reports_from_inside();
    let f = r
        .functions
        .iter()
        .find(|f| f.name == "reports_from_inside")
        .expect("the running call");
    assert_eq!(
        (f.calls, f.in_flight, f.allocs, f.bytes),
        (1, 1, 2, 16),
        "{f:#?}"
    );
    // Once it has returned, it counts as a call like any other.
    let f = alloc_probe::report()
        .functions
        .into_iter()
        .find(|f| f.name == "reports_from_inside")
        .unwrap();
    assert_eq!((f.calls, f.in_flight), (1, 0), "{f:#?}");
}
