//! The `alloc-probe` binary for the tests that run it (tests/cli.rs, tests/cli_fuzz.rs).
//!
//! `CARGO_BIN_EXE_*` exists only for a package's own binaries, and this one belongs to the
//! alloc-probe package while tests/ belongs to the root package, so the tests build it once
//! per process with the cargo that runs them and take the path cargo reports. `--workspace`
//! resolves features as `cargo test --workspace` does, so the library is not rebuilt.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

pub fn path() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(build)
}

fn build() -> PathBuf {
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .args(["build", "--quiet", "--workspace", "--bin", "alloc-probe"])
        .arg("--message-format=json-render-diagnostics")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stderr(Stdio::inherit());
    // The same profile as this test, when it is the release one.
    let exe = std::env::current_exe().expect("test executable");
    if exe.ancestors().nth(2).and_then(Path::file_name) == Some("release".as_ref()) {
        cargo.arg("--release");
    }
    let out = cargo.output().expect("cannot run cargo");
    assert!(out.status.success(), "cargo build --bin alloc-probe failed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "alloc-probe")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .expect("cargo reported no alloc-probe executable")
}
