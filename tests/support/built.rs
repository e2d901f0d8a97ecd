//! Executables of this workspace for the tests that run them: the `alloc-probe` binary
//! (tests/cli.rs, tests/cli_fuzz.rs) and examples (tests/demo.rs, tests/trace.rs).
//!
//! On the machine that runs them, the tests build what they run with the cargo that runs
//! them, so a test run alone never runs a stale executable. `CARGO_BIN_EXE_*` would not do:
//! it exists only for a package's own binaries, and the `alloc-probe` binary belongs to the
//! alloc-probe package while tests/ belongs to the root package. `--workspace` resolves
//! features as `cargo test --workspace` does, so the library is not rebuilt.
//!
//! Built for another target and run under an emulator (Wine, qemu-user; see `.ci/cross`),
//! the tests cannot run cargo: with `ALLOC_PROBE_TEST_PREBUILT=1` they take the executables
//! that `cargo test --workspace --target ...` built beside them.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

/// The `alloc-probe` binary.
#[allow(dead_code)] // not every test that includes this module runs both kinds
pub fn binary() -> PathBuf {
    built("bin", "alloc-probe", Path::new(""))
}

/// The `cargo-alloc-probe` binary.
#[allow(dead_code)]
pub fn cargo_subcommand() -> PathBuf {
    built("bin", "cargo-alloc-probe", Path::new(""))
}

/// An example of the root package.
#[allow(dead_code)]
pub fn example(name: &str) -> PathBuf {
    built("example", name, Path::new("examples"))
}

fn built(kind: &str, name: &str, under: &Path) -> PathBuf {
    // One build at a time: the tests of one process ask in parallel.
    static BUILDING: Mutex<()> = Mutex::new(());
    let _one = BUILDING.lock().unwrap_or_else(|e| e.into_inner());
    let exe = std::env::current_exe().expect("test executable");
    // target/[triple/]profile/deps/test-hash: the profile's directory is two up.
    let profile = exe.ancestors().nth(2).expect("test executable in target/");
    let path = profile
        .join(under)
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    if std::env::var_os("ALLOC_PROBE_TEST_PREBUILT").is_some() {
        assert!(path.exists(), "{} was not built", path.display());
        return path;
    }
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .args([
            "build",
            "--quiet",
            "--workspace",
            &format!("--{kind}"),
            name,
        ])
        .arg("--message-format=json-render-diagnostics")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stderr(Stdio::inherit());
    // The same profile as this test, when it is the release one.
    if profile.file_name() == Some("release".as_ref()) {
        cargo.arg("--release");
    }
    let out = cargo.output().expect("cannot run cargo");
    assert!(out.status.success(), "cargo build --{kind} {name} failed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == name)
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| panic!("cargo reported no {name} executable"))
}
