//! The stress suite: alloc-probe under load, faults and scale, each attack in a child process
//! of its own (a fresh allocator state, a mode of its own). The oracles are `stats_alloc`,
//! inside the probe's inner allocator here, which sees every request the probe passes on and
//! the inner allocator grants, the inner allocator's count of refusals, and the attacks' own
//! arithmetic.
//!
//! `cargo test -p alloc-probe-bench --test stress` runs the bounded form, a few seconds per
//! attack. The full length, as docs/testing.md gives it:
//! `ALLOC_PROBE_STRESS=full cargo test --release -p alloc-probe-bench --test stress`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use stats_alloc::StatsAlloc;

#[path = "../../tests/support/paths.rs"]
mod paths;
use paths::{descend, leaf_stacks};

#[cfg(unix)]
#[path = "../../tests/support/wait.rs"]
mod wait;
#[cfg(unix)]
use wait::wait_for;

/// `stats_alloc` over System, refusing one request in `REFUSE_EVERY` on threads that asked
/// for refusals (those never reach `stats_alloc`).
struct Flaky;

static COUNTED: StatsAlloc<System> = StatsAlloc::system();

const REFUSE_EVERY: u64 = 7;
static REFUSED: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// Requests seen on this thread while refusing, or `None` when not refusing.
    static REFUSING: Cell<Option<u64>> = const { Cell::new(None) };
}

impl Flaky {
    /// Runs `f` with this thread's refusals held off: for the attack's own bookkeeping.
    fn hold<R>(f: impl FnOnce() -> R) -> R {
        let was = REFUSING.with(|r| r.take());
        let out = f();
        REFUSING.with(|r| r.set(was));
        out
    }

    fn refuse() -> bool {
        let refuse = REFUSING
            .try_with(|r| match r.get() {
                Some(n) => {
                    r.set(Some(n + 1));
                    n % REFUSE_EVERY == REFUSE_EVERY - 1
                }
                None => false,
            })
            .unwrap_or(false);
        if refuse {
            REFUSED.fetch_add(1, Relaxed);
        }
        refuse
    }
}

// SAFETY: forwards to stats_alloc over System, or returns null, which GlobalAlloc allows.
unsafe impl GlobalAlloc for Flaky {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if Flaky::refuse() {
            return std::ptr::null_mut();
        }
        // SAFETY: the caller's contract, passed on.
        unsafe { COUNTED.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        if Flaky::refuse() {
            return std::ptr::null_mut();
        }
        // SAFETY: the caller's contract, passed on.
        unsafe { COUNTED.alloc_zeroed(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { COUNTED.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        if Flaky::refuse() {
            return std::ptr::null_mut();
        }
        // SAFETY: the caller's contract, passed on.
        unsafe { COUNTED.realloc(p, l, n) }
    }
}

#[global_allocator]
static ALLOC: alloc_probe::Probe<Flaky> = alloc_probe::Probe::new(Flaky);

/// How long each attack runs.
#[derive(Clone, Copy)]
struct Scale {
    threads: usize,
    secs: f64,
    churn: usize,
    #[cfg_attr(not(unix), allow(dead_code))]
    forks: usize,
    /// Distinct stacks of the stacks attack: 2^stack_bits.
    stack_bits: u32,
}

const QUICK: Scale = Scale {
    threads: 4,
    secs: 1.5,
    churn: 5_000,
    forks: 10,
    stack_bits: 16,
};
const FULL: Scale = Scale {
    threads: 16,
    secs: 30.0,
    churn: 200_000,
    forks: 200,
    stack_bits: 20,
};

/// The table's capacity in the capped run, and its stacks.
const CAP: u64 = 1000;
const CAPPED_BITS: u32 = 12;

fn main() {
    if let Ok(attack) = std::env::var("STRESS_ATTACK") {
        let scale = if std::env::var_os("STRESS_FULL").is_some() {
            FULL
        } else {
            QUICK
        };
        child(&attack, scale);
        return;
    }
    let full = std::env::var("ALLOC_PROBE_STRESS").as_deref() == Ok("full");
    let modes = ["full", "sampled", "counts"];
    for mode in modes {
        run("load", mode, full, &[]);
        run("refusing", mode, full, &[]);
        run("churn", mode, full, &[]);
        #[cfg(unix)]
        run("fork", mode, full, &[]);
    }
    run("stacks", "full", full, &[]);
    let capped = run(
        "capped",
        "full",
        full,
        &[("ALLOC_PROBE_MAX_STACKS", &CAP.to_string())],
    );
    let said = capped.matches("no room for more allocation stacks").count();
    assert_eq!(said, 1, "the capped run says so once on stderr:\n{capped}");
    let unwritable = run(
        "exit",
        "full",
        full,
        &[
            ("ALLOC_PROBE_REPORT", "summary"),
            ("ALLOC_PROBE_DIR", "/proc/alloc-probe-cannot-write-here"),
        ],
    );
    assert_one_error(&unwritable);
    #[cfg(unix)]
    {
        let dir = std::env::temp_dir().join(format!("alloc-probe-stress-{}", std::process::id()));
        let disk = run(
            "full-disk",
            "full",
            full,
            &[
                ("ALLOC_PROBE_REPORT", "summary"),
                ("ALLOC_PROBE_DIR", dir.to_str().unwrap()),
            ],
        );
        let _ = std::fs::remove_dir_all(&dir);
        assert_one_error(&disk);
    }
    println!("test stress ... ok\n\ntest result: ok. 1 passed; 0 failed");
}

/// Exactly one line says the report could not be written.
fn assert_one_error(stderr: &str) {
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("cannot write the report"))
        .collect();
    assert_eq!(lines.len(), 1, "one error line:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// Runs `attack` in a child in `mode`; prints its figures; returns its stderr.
fn run(attack: &str, mode: &str, full: bool, env: &[(&str, &str)]) -> String {
    let start = Instant::now();
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.env("STRESS_ATTACK", attack)
        .env("ALLOC_PROBE_MODE", mode)
        .env("ALLOC_PROBE_REPORT", "off")
        .env_remove("ALLOC_PROBE_DIR");
    if full {
        cmd.env("STRESS_FULL", "1");
    }
    if mode == "sampled" {
        // Small enough that most blocks of the attacks are sampled.
        cmd.env("ALLOC_PROBE_SAMPLE_RATE", "256");
    }
    let out = cmd.envs(env.iter().copied()).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "{attack} in {mode} mode: {}\n{stdout}\n{stderr}",
        out.status
    );
    for line in stdout.lines() {
        println!(
            "stress {attack:>9} {mode:>7}: {line} ({:.1} s)",
            start.elapsed().as_secs_f64()
        );
    }
    stderr
}

fn child(attack: &str, s: Scale) {
    match attack {
        "load" => load(s, false),
        "refusing" => load(s, true),
        "churn" => churn(s),
        #[cfg(unix)]
        "fork" => fork(s),
        "stacks" => stacks(s.stack_bits),
        "capped" => capped(),
        "exit" => {
            black_box(Box::new(1u64));
        }
        #[cfg(unix)]
        "full-disk" => full_disk(),
        other => panic!("no attack {other}"),
    }
}

/// A small, fast generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn layout(&mut self) -> Layout {
        let r = self.next();
        let size = match r % 100 {
            0 => 1 + (r >> 8) as usize % (256 << 10),
            1..=9 => 1 + (r >> 8) as usize % 4096,
            _ => 1 + (r >> 8) as usize % 128,
        };
        let align = match (r >> 40) % 64 {
            0 => 4096,
            1 => 64,
            2..=5 => 16,
            _ => 8,
        };
        Layout::from_size_align(size, align).unwrap()
    }
}

/// A block handed to another thread to free.
struct Sent(*mut u8, Layout);
// SAFETY: a block is owned by whoever holds it; the allocator takes frees from any thread.
unsafe impl Send for Sent {}

/// Figures of the probe and of `stats_alloc`.
fn snapshot() -> (alloc_probe::Stats, stats_alloc::Stats) {
    (alloc_probe::stats(), COUNTED.stats())
}

/// Random alloc, realloc and free on `s.threads` threads, a third of the frees on another
/// thread than the block's; with `refusing`, the inner allocator refuses one request in
/// seven. The probe's counts must be stats_alloc's, request for request.
fn load(s: Scale, refusing: bool) {
    // What the first thread spawned sets up for good is not the attack's.
    std::thread::spawn(|| ()).join().unwrap();
    let (p0, a0) = snapshot();
    let r0 = REFUSED.load(Relaxed);
    let stop = Arc::new(AtomicBool::new(false));
    let handoff: Arc<Mutex<Vec<Sent>>> = Arc::new(Mutex::new(Vec::with_capacity(1 << 16)));
    let ops = Arc::new(AtomicU64::new(0));
    // The peak may never read below a live figure read while the load runs.
    let watcher = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut most = 0;
            while !stop.load(Relaxed) {
                most = most.max(alloc_probe::stats().live_bytes);
                std::thread::sleep(Duration::from_millis(1));
            }
            most
        })
    };
    let workers: Vec<_> = (0..s.threads)
        .map(|t| {
            let (stop, handoff, ops) = (stop.clone(), handoff.clone(), ops.clone());
            std::thread::spawn(move || {
                let mut live: Vec<(*mut u8, Layout)> = Vec::with_capacity(512);
                let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (t as u64 + 1) << 17);
                let mut n = 0u64;
                if refusing {
                    REFUSING.with(|r| r.set(Some(t as u64)));
                }
                while !stop.load(Relaxed) {
                    n += 1;
                    let r = rng.next();
                    match r % 8 {
                        0..=3 if live.len() < 512 => {
                            let l = rng.layout();
                            // SAFETY: a valid non-zero layout; a null result is not kept.
                            let p = unsafe {
                                if r & 256 == 0 {
                                    std::alloc::alloc(l)
                                } else {
                                    std::alloc::alloc_zeroed(l)
                                }
                            };
                            if !p.is_null() {
                                // SAFETY: the block has at least one byte.
                                unsafe { p.write(t as u8) };
                                live.push((p, l));
                            }
                        }
                        4 | 5 if !live.is_empty() => {
                            let i = (r >> 8) as usize % live.len();
                            let (p, l) = live[i];
                            let new = rng.layout().size();
                            // SAFETY: a live block with its layout; a new non-zero size.
                            let q = unsafe { std::alloc::realloc(p, l, new) };
                            if !q.is_null() {
                                live[i] = (q, Layout::from_size_align(new, l.align()).unwrap());
                            }
                        }
                        _ if !live.is_empty() => {
                            let (p, l) = live.swap_remove((r >> 8) as usize % live.len());
                            if r.is_multiple_of(3) {
                                Flaky::hold(|| handoff.lock().unwrap().push(Sent(p, l)));
                            } else {
                                // SAFETY: a live block with its layout.
                                unsafe { std::alloc::dealloc(p, l) };
                            }
                        }
                        _ => {}
                    }
                    if n.is_multiple_of(64) {
                        let theirs = Flaky::hold(|| std::mem::take(&mut *handoff.lock().unwrap()));
                        for Sent(p, l) in theirs {
                            // SAFETY: a live block another thread handed over.
                            unsafe { std::alloc::dealloc(p, l) };
                        }
                    }
                }
                REFUSING.with(|r| r.set(None));
                for (p, l) in live {
                    // SAFETY: a live block with its layout.
                    unsafe { std::alloc::dealloc(p, l) };
                }
                ops.fetch_add(n, Relaxed);
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(s.secs));
    stop.store(true, Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    let most = watcher.join().unwrap();
    for Sent(p, l) in std::mem::take(&mut *handoff.lock().unwrap()) {
        // SAFETY: a live block a worker handed over.
        unsafe { std::alloc::dealloc(p, l) };
    }
    let ops = ops.load(Relaxed);
    drop((handoff, stop));
    let (p1, a1) = snapshot();
    let refused = REFUSED.load(Relaxed) - r0;
    let (p, a) = (p1 - p0, delta(a1, a0));
    // stats_alloc sees the requests granted; the probe counts refusals apart.
    assert_eq!(
        (p.allocs + p.reallocs, p.deallocs),
        (
            (a.allocations + a.reallocations) as u64,
            a.deallocations as u64
        ),
        "{p:?}\n{a:?}"
    );
    assert_eq!(p.failed, refused, "one inner request per program request");
    assert_eq!(refused > 0, refusing);
    // Every block of the attack freed: what stays is the runtime's (a few small blocks the
    // standard library keeps once threads ran).
    let grew = (
        p1.live_blocks.abs_diff(p0.live_blocks),
        p1.live_bytes.abs_diff(p0.live_bytes),
    );
    assert!(
        grew.0 < 16 && grew.1 < 16 << 10,
        "live blocks and bytes grew by {grew:?}"
    );
    assert!(
        p1.peak_live_bytes >= most,
        "peak {} < {most}",
        p1.peak_live_bytes
    );
    println!(
        "{} threads x {:.1} s: {} operations, {} events, {} refused, counts equal to stats_alloc's",
        s.threads,
        s.secs,
        ops,
        p.allocs + p.reallocs + p.deallocs,
        refused
    );
}

fn delta(later: stats_alloc::Stats, earlier: stats_alloc::Stats) -> stats_alloc::Stats {
    stats_alloc::Stats {
        allocations: later.allocations - earlier.allocations,
        deallocations: later.deallocations - earlier.deallocations,
        reallocations: later.reallocations - earlier.reallocations,
        bytes_allocated: later.bytes_allocated - earlier.bytes_allocated,
        bytes_deallocated: later.bytes_deallocated - earlier.bytes_deallocated,
        bytes_reallocated: later.bytes_reallocated - earlier.bytes_reallocated,
    }
}

/// The memory the process holds (resident set), where the system says.
fn resident() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// Short threads, 64 at a time, each allocating, freeing a block another thread allocated,
/// and leaving one for the next to free; a thread-local destructor allocates at teardown.
fn churn(s: Scale) {
    thread_local! {
        static LAST: Cell<u64> = const { Cell::new(0) };
        static BOX: std::cell::RefCell<Option<Box<[u8; 32]>>> = const { std::cell::RefCell::new(None) };
    }
    struct Teardown;
    impl Drop for Teardown {
        fn drop(&mut self) {
            let _ = LAST.try_with(|l| l.set(black_box(vec![0u8; 48]).len() as u64));
        }
    }
    thread_local!(static TEARDOWN: Teardown = const { Teardown });
    std::thread::spawn(|| ()).join().unwrap();
    let (p0, a0) = snapshot();
    let mut rss = Vec::new();
    let carried: Arc<Mutex<Option<Box<[u8; 64]>>>> = Arc::new(Mutex::new(None));
    let mut done = 0;
    while done < s.churn {
        let batch: Vec<_> = (0..64.min(s.churn - done))
            .map(|_| {
                let carried = carried.clone();
                std::thread::spawn(move || {
                    TEARDOWN.with(|_| ());
                    BOX.with(|b| *b.borrow_mut() = Some(Box::new([1; 32])));
                    let mine = Box::new([2u8; 64]);
                    let old = carried.lock().unwrap().replace(mine);
                    drop(black_box(old));
                    black_box(vec![3u8; 100]);
                })
            })
            .collect();
        done += batch.len();
        for t in batch {
            t.join().unwrap();
        }
        if done % (s.churn / 10).max(64) < 64 {
            rss.extend(resident());
        }
    }
    drop(carried);
    let (p1, a1) = snapshot();
    let (p, a) = (p1 - p0, delta(a1, a0));
    assert_eq!(
        (p.allocs, p.reallocs, p.deallocs),
        (
            a.allocations as u64,
            a.reallocations as u64,
            a.deallocations as u64
        ),
        "{p:?}\n{a:?}"
    );
    let grew = p1.live_bytes.abs_diff(p0.live_bytes);
    assert!(
        grew < 16 << 10,
        "live bytes grew by {grew} over the threads"
    );
    // Flat: the last tenth holds no more than the second did, give or take 16 MiB.
    if let (Some(&early), Some(&late)) = (rss.get(1), rss.last()) {
        assert!(
            late <= early + (16 << 20),
            "memory grew with threads: {rss:?}"
        );
    }
    println!(
        "{} threads: {} events, counts equal to stats_alloc's, resident {} -> {} MiB",
        s.churn,
        p.allocs + p.reallocs + p.deallocs,
        rss.get(1).copied().unwrap_or(0) >> 20,
        rss.last().copied().unwrap_or(0) >> 20
    );
}

/// Forks while one thread allocates and another builds reports; each child allocates,
/// builds a report and exits. None may hang or fail.
#[cfg(unix)]
fn fork(s: Scale) {
    let stop = Arc::new(AtomicBool::new(false));
    let busy: Vec<_> = [false, true]
        .into_iter()
        .map(|reports| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(Relaxed) {
                    if reports {
                        black_box(alloc_probe::report());
                    } else {
                        black_box(vec![1u8; 100]);
                    }
                }
            })
        })
        .collect();
    let (mut hung, mut failed) = (0, 0);
    for _ in 0..s.forks {
        // SAFETY: the child allocates, builds a report and calls _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            let ((), st) = alloc_probe::measure(|| drop(black_box(Box::new([0u8; 40]))));
            let ok = st.allocs == 1 && alloc_probe::report().stats.allocs > 0;
            // SAFETY: ends the child without the parent's atexit handlers.
            unsafe { libc::_exit(if ok { 0 } else { 1 }) };
        }
        match wait_for(pid, 20) {
            Some(st) if libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0 => {}
            Some(_) => failed += 1,
            None => hung += 1,
        }
    }
    stop.store(true, Relaxed);
    for b in busy {
        b.join().unwrap();
    }
    assert_eq!((hung, failed), (0, 0), "children hung, failed");
    println!(
        "{} forks beside an allocating and a reporting thread: none hung",
        s.forks
    );
}

/// 2^`bits` distinct stacks (a million in the full run): every one kept, with its block.
fn stacks(bits: u32) {
    let n = 1u64 << bits;
    let t = Instant::now();
    for path in 0..n {
        black_box(descend(bits, path, 1));
    }
    let ran = t.elapsed();
    let t = Instant::now();
    let r = alloc_probe::report();
    let reported = t.elapsed();
    let leaves = leaf_stacks(&r);
    assert_eq!(r.tracking.unsited_blocks, 0);
    assert_eq!(leaves.len() as u64, n, "every stack kept");
    assert!(leaves.iter().all(|&a| a == 1));
    println!(
        "{n} distinct stacks in {:.1} s: all kept; report() {:.1} s, {} MiB of tracking",
        ran.as_secs_f64(),
        reported.as_secs_f64(),
        r.tracking.stack_bytes >> 20
    );
}

/// Past the table's capacity: stacks kept keep exact counts, the rest are counted without
/// a site, and the report says how many.
fn capped() {
    let n = 1u64 << CAPPED_BITS;
    const BLOCKS: u32 = 3;
    for path in 0..n {
        black_box(descend(CAPPED_BITS, path, BLOCKS));
    }
    let r = alloc_probe::report();
    let leaves = leaf_stacks(&r);
    assert_eq!(r.tracking.stacks, CAP, "the table holds its capacity");
    assert!(leaves.iter().all(|&a| a == u64::from(BLOCKS)), "{leaves:?}");
    let lost = (n - leaves.len() as u64) * u64::from(BLOCKS);
    assert_eq!(r.tracking.unsited_blocks, lost, "{:?}", r.tracking);
    assert_eq!(r.tracking.unsited_bytes, lost * 8, "{:?}", r.tracking);
    println!(
        "{n} stacks past a capacity of {CAP}: {} kept exact, {lost} blocks counted without a site",
        leaves.len()
    );
}

/// The report at exit meets a full disk: files may not grow past 4 KiB (the report's JSON is
/// larger), and the signal that would kill the process is ignored, so writes fail.
#[cfg(unix)]
fn full_disk() {
    // SAFETY: plain system calls on this process's own limits and signal disposition.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        let lim = libc::rlimit {
            rlim_cur: 4096,
            rlim_max: libc::RLIM_INFINITY,
        };
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &lim), 0);
    }
    let r = alloc_probe::report();
    assert!(r.write_json("/dev/full").is_err(), "a full device refuses");
}
