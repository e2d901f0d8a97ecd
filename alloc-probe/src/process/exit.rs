//! The report at exit: a table on stderr and a JSON file, after the program's last line
//! (also after `std::process::exit` and at the end of `cargo test`).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use crate::report::{self, Detail};
use crate::sys::{env, guard, hooks};

static EXIT_REPORT: AtomicBool = AtomicBool::new(true);

/// Turns the report at exit on or off (it is on unless `ALLOC_PROBE_REPORT=off`). A program
/// that prints and writes its own report turns it off.
pub fn set_exit_report(on: bool) {
    EXIT_REPORT.store(on, Relaxed);
}

pub(super) fn install() {
    hooks::at_exit(at_exit);
}

/// What `ALLOC_PROBE_REPORT` asks for at exit: nothing, or the JSON file and the table at
/// this detail (none: `file`, the file alone, as `cargo alloc-probe` asks).
fn setting() -> Option<Option<Detail>> {
    // nextest runs each test binary to list its tests: nothing to profile. (Versions before
    // NEXTEST_TEST_PHASE are told by the `--list` argument.)
    let listing = std::env::var_os("NEXTEST_TEST_PHASE").is_some_and(|p| p == "list")
        || (std::env::var_os("NEXTEST").is_some() && std::env::args_os().any(|a| a == "--list"));
    if listing {
        return None;
    }
    match std::env::var("ALLOC_PROBE_REPORT").as_deref() {
        Ok("off") | Ok("0") | Ok("none") => None,
        Ok("file") => Some(None),
        Ok("full") => Some(Some(Detail::Full)),
        Ok("summary") | Ok("") | Err(_) => Some(Some(Detail::Summary)),
        Ok(other) => {
            env::warn(&[
                b"alloc-probe: ALLOC_PROBE_REPORT=",
                other.as_bytes(),
                b" is not one of off, file, summary, full; using summary\n",
            ]);
            Some(Some(Detail::Summary))
        }
    }
}

/// Where reports go: `ALLOC_PROBE_DIR`, else `alloc-probe/` in the Cargo target directory of
/// the running executable, else the system's temporary directory.
fn report_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("ALLOC_PROBE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("alloc-probe");
    }
    if let Ok(exe) = std::env::current_exe() {
        // Cargo marks its target directory with CACHEDIR.TAG.
        if let Some(target) = exe.ancestors().find(|a| a.join("CACHEDIR.TAG").is_file()) {
            return target.join("alloc-probe");
        }
    }
    std::env::temp_dir().join("alloc-probe")
}

extern "C" fn at_exit() {
    // Never let a panic cross into C.
    let _ = std::panic::catch_unwind(|| {
        let _ignore = guard::Ignore::new();
        if !EXIT_REPORT.load(Relaxed) {
            return;
        }
        let Some(detail) = setting() else { return };
        let r = report::build();
        let mut text = String::new();
        if let Some(detail) = detail {
            let _ = report::write_text(&r, &mut text, detail);
        }
        // A process id may come back in a long run: never overwrite another's report.
        let dir = report_dir();
        let mut path = dir.join(format!("{}-{}.json", r.binary, r.pid));
        for n in 2..1000 {
            if !path.exists() {
                break;
            }
            path = dir.join(format!("{}-{}-{n}.json", r.binary, r.pid));
        }
        match r.write_json(&path) {
            Ok(()) if detail.is_some() => text.push_str(&format!("\nreport: {}\n", path.display())),
            Ok(()) => {}
            Err(e) => text.push_str(&format!(
                "alloc-probe: cannot write the report to {}: {e}\n",
                path.display()
            )),
        }
        env::write_stderr(text.as_bytes());
    });
}
