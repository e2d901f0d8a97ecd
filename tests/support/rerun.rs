//! For harness-free tests that run themselves as child processes (a test harness would start
//! threads of its own, and a child starts with a fresh allocator state).

use std::process::Command;

/// Whether this process is the child, marked by the environment variable `marker`.
pub fn is_child(marker: &str) -> bool {
    std::env::var_os(marker).is_some()
}

/// Runs this test binary again as a child with `marker` and `env` set (and no report at exit),
/// and fails, with the child's stderr, unless it succeeds. `what` names the run in a failure.
pub fn run_child(marker: &str, env: &[(&str, &str)], what: &str) {
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(&exe)
        .env(marker, "1")
        .env("ALLOC_PROBE_REPORT", "off")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Prints what libtest prints for one passed test, for `cargo test`'s summary.
pub fn passed(name: &str) {
    println!("test {name} ... ok\n\ntest result: ok. 1 passed; 0 failed");
}
