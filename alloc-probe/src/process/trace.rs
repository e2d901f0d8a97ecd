//! The live heap trace, `ALLOC_PROBE_TRACE=1s`, in the spirit of Go's `GODEBUG=gctrace=1`:
//! one line per interval on stderr with live bytes and blocks (and their change), the peak,
//! allocations and frees per second, and resident memory.
//!
//! The trace runs on a thread made by the system directly (see `sys::thread`) and formats into stack
//! buffers, so it allocates nothing: its own work never shows up in the figures it prints.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use crate::counters::totals;
use crate::report::units::{Bytes, StackStr};
use crate::sys::{env, pages, thread};

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
pub(super) fn start() {
    let v = env::var(c"ALLOC_PROBE_TRACE");
    let Some(v) = v.filter(|v| !v.is_empty() && *v != b"0" && *v != b"off") else {
        return;
    };
    let Some(every) = parse_interval(v) else {
        env::warn(&[
            b"alloc-probe: ALLOC_PROBE_TRACE=",
            v,
            b" is not an interval like 1s or 500ms; no trace\n",
        ]);
        return;
    };
    EVERY_NS.store(every.as_nanos() as u64, Relaxed);
    thread::spawn(run);
}

/// The trace's interval in nanoseconds, for its thread (stored before the thread starts).
static EVERY_NS: AtomicU64 = AtomicU64::new(0);

/// The trace thread: a line every `EVERY_NS` nanoseconds.
fn run() {
    let every = EVERY_NS.load(Relaxed);
    let start = std::time::Instant::now();
    let mut last = totals();
    let mut last_t = 0.0f64;
    loop {
        // Interruptions only shorten one interval.
        thread::sleep(every);
        let now = totals();
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
        if let Some(rss) = pages::resident() {
            let _ = write!(line, ", resident {}", Bytes(rss));
        }
        if let Some(je) = jemalloc_resident() {
            let _ = write!(line, " (jemalloc {})", Bytes(je));
        }
        let _ = line.write_str("\n");
        env::warn(&[line.as_bytes()]);
        last = now;
        last_t = t;
    }
}

/// jemalloc's resident bytes, when the probe wraps jemalloc.
fn jemalloc_resident() -> Option<u64> {
    #[cfg(alloc_probe_jemalloc)]
    if crate::sys::settings::inner_is_jemalloc() {
        return crate::sys::jemalloc::jemalloc_stats()
            .ok()
            .map(|s| s.resident);
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
