//! Waiting for a forked child, with a deadline, for the tests that fork.

use std::time::{Duration, Instant};

/// Waits for child `pid` for at most `secs` seconds; kills it and returns `None` past that.
pub fn wait_for(pid: libc::pid_t, secs: u64) -> Option<libc::c_int> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let mut status = 0;
        // SAFETY: polls our own child.
        match unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } {
            0 if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(2)),
            0 => {
                // SAFETY: our own child, hung; reaped right after.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                    libc::waitpid(pid, &mut status, 0);
                }
                return None;
            }
            _ => return Some(status),
        }
    }
}
