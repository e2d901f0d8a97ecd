//! An independent oracle: `stats_alloc` and `Probe` must count the same workload alike.
//!
//! The workload (`bench/benches/workload/oracle.rs`) runs in the `oracle-stats-alloc` binary, whose
//! global allocator is `stats_alloc::StatsAlloc<System>` measuring the run with a `Region`,
//! and here in-process under `alloc_probe::measure`. Allocation, deallocation and realloc
//! counts must be identical, and so must net bytes (`bytes_allocated - bytes_deallocated`):
//! stats_alloc adds only a realloc's growth to its allocated bytes and only its shrinkage to
//! its deallocated bytes, alloc-probe the whole new and old sizes, so the totals differ but
//! their difference does not.

use std::collections::BTreeMap;
use std::process::Command;

#[global_allocator]
static ALLOC: alloc_probe::Probe = alloc_probe::Probe::system();

#[path = "../benches/workload/oracle.rs"]
mod oracle;

/// The figures both sides report, plus the workload's own observations.
#[derive(Debug, PartialEq, Eq)]
struct Counts {
    allocations: u64,
    deallocations: u64,
    reallocations: u64,
    net_bytes: i64,
    kept_blocks: u64,
    min_allocs: u64,
    min_reallocs: u64,
}

/// Runs the workload under stats_alloc, in its own process.
fn stats_alloc_counts(extra_boxes: usize) -> Counts {
    let out = Command::new(env!("CARGO_BIN_EXE_oracle-stats-alloc"))
        .arg(extra_boxes.to_string())
        .output()
        .expect("run oracle-stats-alloc");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "oracle-stats-alloc failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let fields: BTreeMap<&str, i64> = stdout
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k, v.trim().parse().expect("a number")))
        .collect();
    let get = |k: &str| -> i64 {
        *fields
            .get(k)
            .unwrap_or_else(|| panic!("no {k} in:\n{stdout}"))
    };
    Counts {
        allocations: get("allocations") as u64,
        deallocations: get("deallocations") as u64,
        reallocations: get("reallocations") as u64,
        net_bytes: get("net_bytes"),
        kept_blocks: get("kept_blocks") as u64,
        min_allocs: get("min_allocs") as u64,
        min_reallocs: get("min_reallocs") as u64,
    }
}

/// Runs the workload here, under `Probe`.
fn probe_counts(extra_boxes: usize) -> Counts {
    let ((kept, observed), s) = alloc_probe::measure(|| oracle::run(extra_boxes));
    let counts = Counts {
        allocations: s.allocs,
        deallocations: s.deallocs,
        reallocations: s.reallocs,
        net_bytes: s.bytes_allocated as i64 - s.bytes_deallocated as i64,
        kept_blocks: kept.blocks() as u64,
        min_allocs: observed.min_allocs,
        min_reallocs: observed.min_reallocs,
    };
    assert_eq!(s.failed, 0);
    assert_eq!(s.live_blocks, s.allocs - s.deallocs);
    assert_eq!(s.live_bytes as i64, counts.net_bytes);
    drop(kept);
    counts
}

#[test]
fn probe_counts_what_stats_alloc_counts() {
    let theirs = stats_alloc_counts(0);
    let ours = probe_counts(0);
    assert_eq!(
        ours, theirs,
        "Probe (left) and stats_alloc (right) disagree"
    );

    // The figures are not trivially equal: the workload reallocates and keeps data alive.
    assert!(ours.allocations >= ours.min_allocs, "{ours:?}");
    assert!(ours.reallocations >= ours.min_reallocs, "{ours:?}");
    assert!(ours.min_reallocs >= 10, "{ours:?}");
    assert_eq!(
        ours.allocations - ours.deallocations,
        ours.kept_blocks,
        "exactly the kept blocks are live: {ours:?}"
    );
    assert!(ours.net_bytes > 0, "{ours:?}");
}

/// The comparison can fail: a few more boxes in one run show up as exactly that many more
/// allocations and frees on both sides, and no longer match a run without them.
#[test]
fn extra_allocations_are_seen_by_both() {
    let base = stats_alloc_counts(0);
    let theirs = stats_alloc_counts(3);
    let ours = probe_counts(3);
    assert_eq!(ours, theirs);
    assert_eq!(theirs.allocations, base.allocations + 3);
    assert_eq!(theirs.deallocations, base.deallocations + 3);
    assert_eq!(theirs.reallocations, base.reallocations);
    assert_eq!(theirs.net_bytes, base.net_bytes);
    assert_ne!(ours, base);
}
