//! For harness-free tests that run themselves as child processes (a test harness would start
//! threads of its own, and a child starts with a fresh allocator state).

use std::process::Command;

/// The `main` of such a test, `name`: in the child, runs `child`; otherwise runs the child
/// `runs` times in each of `modes` (`ALLOC_PROBE_MODE`, with `env` besides), failing with the
/// child's stderr at the first run that fails, then prints what libtest prints for one passed
/// test, for `cargo test`'s summary.
pub fn main(name: &str, modes: &[&str], runs: usize, env: &[(&str, &str)], child: fn()) {
    let marker = format!("{}_CHILD", name.to_uppercase());
    if std::env::var_os(&marker).is_some() {
        child();
        return;
    }
    let exe = std::env::current_exe().unwrap();
    for mode in modes {
        for run in 0..runs {
            let out = Command::new(&exe)
                .env(&marker, "1")
                .env("ALLOC_PROBE_REPORT", "off")
                .env("ALLOC_PROBE_MODE", mode)
                .envs(env.iter().copied())
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{mode} mode, run {run}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    println!("test {name} ... ok\n\ntest result: ok. 1 passed; 0 failed");
}
