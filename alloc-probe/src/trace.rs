//! The live heap trace, `ALLOC_PROBE_TRACE=1s`, in the spirit of Go's `GODEBUG=gctrace=1`:
//! one line per interval on stderr with live bytes and blocks (and their change), the peak,
//! allocations and frees per second, and resident memory.
//!
//! The trace runs on a thread made with `pthread_create` directly and formats into stack
//! buffers, so it allocates nothing: its own work never shows up in the figures it prints.

use std::fmt::Write;
use std::time::Duration;

use crate::tally;
use crate::units::{Bytes, StackStr};

/// Parses `1s`, `500ms`, `2m`, `1.5s`, or a plain number of seconds.
pub(crate) fn parse_interval(v: &[u8]) -> Option<Duration> {
    let s = std::str::from_utf8(v).ok()?.trim();
    let (num, unit) = match s.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let n: f64 = num.trim().parse().ok()?;
    let secs = match unit {
        "ms" => n / 1e3,
        "s" => n,
        "m" | "min" => n * 60.0,
        _ => return None,
    };
    (secs.is_finite() && secs >= 0.001).then(|| Duration::from_secs_f64(secs))
}

/// Starts the trace thread if `ALLOC_PROBE_TRACE` asks for it. Called once, on the first
/// allocation.
pub(crate) fn start(env: Option<&'static [u8]>) {
    let Some(v) = env.filter(|v| !v.is_empty() && *v != b"0" && *v != b"off") else {
        return;
    };
    let Some(every) = parse_interval(v) else {
        crate::config::warn(&[
            b"alloc-probe: ALLOC_PROBE_TRACE=",
            v,
            b" is not an interval like 1s or 500ms; no trace\n",
        ]);
        return;
    };
    let nanos = every.as_nanos() as usize;
    // SAFETY: `run` is a plain extern "C" fn taking its interval by value in the pointer
    // argument; the thread is detached and owns nothing.
    unsafe {
        let mut t: libc::pthread_t = std::mem::zeroed();
        if libc::pthread_create(&mut t, std::ptr::null(), run, nanos as *mut libc::c_void) == 0 {
            libc::pthread_detach(t);
        }
    }
}

extern "C" fn run(arg: *mut libc::c_void) -> *mut libc::c_void {
    let every = arg as usize as u64;
    let ts = libc::timespec {
        tv_sec: (every / 1_000_000_000) as libc::time_t,
        tv_nsec: (every % 1_000_000_000) as libc::c_long,
    };
    let start = std::time::Instant::now();
    let mut last = tally::totals();
    let mut last_t = 0.0f64;
    loop {
        // SAFETY: a valid timespec; interruptions only shorten one interval.
        unsafe { libc::nanosleep(&ts, std::ptr::null_mut()) };
        let now = tally::totals();
        let t = start.elapsed().as_secs_f64();
        let dt = (t - last_t).max(1e-9);
        let mut line = StackStr::<256>::new();
        let signed = |a: u64, b: u64| a as i128 - b as i128;
        let _ = write!(
            line,
            "alloc-probe trace: {t:7.2}s live {} ({}{}) in {} blocks ({:+}), peak {}, {:.0} allocs/s, {:.0} frees/s",
            Bytes(now.live_bytes),
            if now.live_bytes >= last.live_bytes { "+" } else { "-" },
            Bytes(now.live_bytes.abs_diff(last.live_bytes)),
            now.live_blocks,
            signed(now.live_blocks, last.live_blocks),
            Bytes(now.peak_live_bytes),
            (now.allocs + now.reallocs).saturating_sub(last.allocs + last.reallocs) as f64 / dt,
            now.deallocs.saturating_sub(last.deallocs) as f64 / dt,
        );
        if let Some(rss) = resident() {
            let _ = write!(line, ", resident {}", Bytes(rss));
        }
        if let Some(je) = jemalloc_resident() {
            let _ = write!(line, " (jemalloc {})", Bytes(je));
        }
        let _ = line.write_str("\n");
        crate::config::warn(&[line.as_bytes()]);
        last = now;
        last_t = t;
    }
}

/// Resident set size from /proc/self/statm, read into a stack buffer.
fn resident() -> Option<u64> {
    let mut buf = [0u8; 128];
    // SAFETY: a NUL-terminated path; the fd is closed; reads stay within `buf`.
    let n = unsafe {
        let fd = libc::open(c"/proc/self/statm".as_ptr(), libc::O_RDONLY);
        if fd < 0 {
            return None;
        }
        let n = libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
        libc::close(fd);
        n
    };
    let text = std::str::from_utf8(buf.get(..usize::try_from(n).ok()?)?).ok()?;
    let pages: u64 = text.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page).ok()?)
}

/// jemalloc's resident bytes, when the probe wraps jemalloc.
fn jemalloc_resident() -> Option<u64> {
    #[cfg(feature = "jemalloc")]
    if crate::config::inner_is_jemalloc() {
        return crate::jemalloc_stats().ok().map(|s| s.resident);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::parse_interval;
    use std::time::Duration;

    #[test]
    fn intervals() {
        assert_eq!(parse_interval(b"1s"), Some(Duration::from_secs(1)));
        assert_eq!(parse_interval(b"500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_interval(b"2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_interval(b"1m"), Some(Duration::from_secs(60)));
        assert_eq!(parse_interval(b"0.25s"), Some(Duration::from_millis(250)));
        assert_eq!(parse_interval(b"fast"), None);
        assert_eq!(parse_interval(b"1h"), None);
        assert_eq!(parse_interval(b"0"), None);
    }
}
