//! alloc-probe's figures against independent tools, on the same deterministic workload
//! (`tests/scenarios/oracle_workload.rs`) run as separate programs:
//! valgrind's DHAT (totals), heaptrack (temporaries) and dhat-rs (totals and peak).
//!
//! valgrind and heaptrack see the whole process through malloc, start-up included, so their
//! figures are a difference: a run doing the work minus a run that does not.
#![cfg(all(target_os = "linux", target_arch = "x86_64"))] // the oracles run on Linux x86-64

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

fn root() -> &'static str {
    env!("CARGO_MANIFEST_DIR")
}

/// Builds the oracle examples once and returns the directory holding them.
fn examples() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--quiet"])
            .args(["--example", "oracle_system", "--example", "oracle_dhat"])
            .args(["--example", "oracle_probe"])
            .current_dir(root())
            .status()
            .expect("run cargo");
        assert!(status.success(), "building the oracle examples failed");
        PathBuf::from(root()).join("target/debug/examples")
    })
}

/// Our figures: allocs, reallocs, deallocs, bytes allocated, bytes freed, peak, temporaries.
fn ours() -> Vec<u64> {
    let out = Command::new(examples().join("oracle_probe"))
        .env("ALLOC_PROBE_REPORT", "off")
        .env_remove("ALLOC_PROBE_MODE")
        .output()
        .unwrap();
    assert!(out.status.success());
    numbers(&out.stdout)
}

fn numbers(out: &[u8]) -> Vec<u64> {
    String::from_utf8_lossy(out)
        .split_whitespace()
        .map(|w| w.parse().unwrap())
        .collect()
}

fn tool(name: &str) -> &str {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "{name} is not installed: `apt-get install -y {name}` (.ci/run does this)"
    );
    name
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("alloc-probe-oracles-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Total blocks and bytes DHAT saw for one run (`work` or `idle`).
fn valgrind_dhat(arg: &str) -> (u64, u64) {
    let out = scratch(&format!("dhat-{arg}.json"));
    let status = Command::new(tool("valgrind"))
        .arg("--tool=dhat")
        .arg(format!("--dhat-out-file={}", out.display()))
        .arg(examples().join("oracle_system"))
        .arg(arg)
        .output()
        .unwrap()
        .status;
    assert!(status.success());
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let pps = json["pps"].as_array().unwrap();
    let sum = |k: &str| pps.iter().map(|p| p[k].as_u64().unwrap()).sum::<u64>();
    (sum("tbk"), sum("tb"))
}

#[test]
fn totals_equal_valgrind_dhat() {
    let o = ours();
    let work = valgrind_dhat("work");
    let idle = valgrind_dhat("idle");
    // DHAT counts a realloc as one more block and adds its new size, as our Stats do.
    assert_eq!(
        work.0 - idle.0,
        o[0] + o[1],
        "blocks: DHAT {work:?} - {idle:?}, ours {o:?}"
    );
    assert_eq!(
        work.1 - idle.1,
        o[3],
        "bytes: DHAT {work:?} - {idle:?}, ours {o:?}"
    );
}

#[test]
fn totals_and_peak_equal_dhat_rs() {
    let o = ours();
    let out = Command::new(examples().join("oracle_dhat"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let d = numbers(&out.stdout);
    assert_eq!(d[0], o[0] + o[1], "total blocks: dhat-rs {d:?}, ours {o:?}");
    assert_eq!(d[1], o[3], "total bytes: dhat-rs {d:?}, ours {o:?}");
    assert_eq!(d[2], o[5], "peak bytes: dhat-rs {d:?}, ours {o:?}");
    assert_eq!(
        d[4],
        o[3] - o[4],
        "bytes live at the end: dhat-rs {d:?}, ours {o:?}"
    );
}

/// heaptrack's count of temporary allocations for one run.
fn heaptrack_temporaries(arg: &str) -> u64 {
    let base = scratch(&format!("heaptrack-{arg}"));
    let out = Command::new(tool("heaptrack"))
        .arg("-o")
        .arg(&base)
        .arg(examples().join("oracle_system"))
        .arg(arg)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = base.parent().unwrap();
    let prefix = base.file_name().unwrap().to_string_lossy().into_owned();
    let data = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(&format!("{prefix}.")))
        })
        .expect("heaptrack wrote no data file");
    let printed = Command::new(tool("heaptrack_print"))
        .arg(&data)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&printed.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("temporary memory allocations:"))
        .unwrap_or_else(|| panic!("no temporary count in heaptrack_print output:\n{text}"));
    line.split_whitespace().nth(3).unwrap().parse().unwrap()
}

#[test]
fn temporaries_equal_heaptrack() {
    let o = ours();
    let t = heaptrack_temporaries("work") - heaptrack_temporaries("idle");
    assert_eq!(t, o[6], "heaptrack {t}, ours {o:?}");
}
