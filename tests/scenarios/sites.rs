//! Allocation scenarios whose sites and classes are known by construction. Each returns the
//! line of its allocating expression (`line!() - 1` on the line after it, a form `rustfmt`
//! keeps), so tests check the report at exactly that line. Used by the debug-build test and
//! by the release-build example.

use std::hint::black_box;

/// A box freed in place: stack-avoidable.
#[inline(never)]
pub fn box_freed_in_place(n: u32) -> u32 {
    let mut line = 0;
    for i in 0..n {
        let b = black_box(Box::new([i; 6]));
        line = line!() - 1;
        black_box(&b);
    }
    line
}

#[inline(never)]
fn make_box(i: u64) -> (Box<u64>, u32) {
    (black_box(Box::new(i)), line!())
}

/// A box made by a function inlined into its caller, which frees it: the frame tested is the
/// caller's, and the verdict says so.
#[inline(always)]
fn boxed_inline(i: u64) -> (Box<u64>, u32) {
    (black_box(Box::new(i)), line!())
}

#[inline(never)]
pub fn inlined_site(n: u32) -> u32 {
    let mut line = 0;
    for i in 0..n {
        let (b, l) = boxed_inline(u64::from(i));
        line = l;
        drop(black_box(b));
    }
    line
}

#[inline(never)]
fn boxed_generic<T: Copy>(v: T) -> (Box<[T; 2]>, u32) {
    // Two of `v`: the same code as `make_box`'s would be merged with it in a release build.
    (black_box(Box::new([v; 2])), line!())
}

/// One line of a generic function in two monomorphisations: one site.
#[inline(never)]
pub fn two_monomorphisations(n: u32) -> u32 {
    let mut line = 0;
    for i in 0..n {
        let (a, l) = boxed_generic(i as u8);
        let (b, _) = boxed_generic(u64::from(i));
        line = l;
        drop(black_box((a, b)));
    }
    line
}

/// A box returned to the caller: escapes.
#[inline(never)]
pub fn box_returned(n: u32) -> u32 {
    let mut line = 0;
    let mut keep = Vec::with_capacity(n as usize);
    for i in 0..n {
        let (b, l) = make_box(u64::from(i));
        line = l;
        keep.push(b);
    }
    drop(black_box(keep));
    line
}

/// A vector that grows and is freed in place: a reusable buffer, never stack-avoidable.
#[inline(never)]
pub fn growing_vec(n: u32) -> u32 {
    let mut line = 0;
    for _ in 0..n {
        let mut v = black_box(Vec::with_capacity(1));
        line = line!() - 1;
        for j in 0..100u32 {
            v.push(j);
        }
        black_box(&v);
    }
    line
}

/// A 1 MiB buffer freed before anything else is allocated: temporary and non-escaping, but
/// too large for the stack.
#[inline(never)]
pub fn big_temporary(n: u32) -> u32 {
    let mut line = 0;
    for _ in 0..n {
        let v = black_box(vec![0u8; 1 << 20]);
        line = line!() - 1;
        drop(v);
    }
    line
}

/// Blocks never freed.
#[inline(never)]
pub fn leak(n: u32) -> u32 {
    let mut line = 0;
    for i in 0..n {
        std::mem::forget(black_box(Box::new(u128::from(i))));
        line = line!() - 1;
    }
    line
}

/// Blocks sent to another thread, which frees them.
#[inline(never)]
pub fn sent_to_thread(n: u32) -> u32 {
    let (tx, rx) = std::sync::mpsc::sync_channel::<Box<[u8; 48]>>(n as usize);
    let mut line = 0;
    for _ in 0..n {
        tx.send(black_box(Box::new([1u8; 48]))).unwrap();
        line = line!() - 1;
    }
    drop(tx);
    std::thread::spawn(move || {
        while let Ok(b) = rx.recv() {
            drop(black_box(b));
        }
    })
    .join()
    .unwrap();
    line
}

/// `n` (at most 32) boxes freed on a thread whose clock was last read before they were born:
/// a thread reads the clock every 64th event only, and the freeing thread does fewer.
pub fn sent_to_stale_thread(n: u32) -> u32 {
    let (tx, rx) = std::sync::mpsc::sync_channel::<Box<[u8; 40]>>(n as usize);
    let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel::<()>(1);
    let freer = std::thread::spawn(move || {
        drop(black_box(Box::new(0u8))); // reads this thread's clock
        ready_tx.send(()).unwrap();
        while let Ok(b) = rx.recv() {
            drop(black_box(b));
        }
    });
    ready_rx.recv().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    for _ in 0..64 {
        drop(black_box(Box::new(1u8))); // this thread reads the clock again
    }
    let mut line = 0;
    for _ in 0..n {
        tx.send(black_box(Box::new([2u8; 40]))).unwrap();
        line = line!() - 1;
    }
    drop(tx);
    freer.join().unwrap();
    line
}

#[inline(never)]
fn panics_holding(line: &mut u32) {
    let _b = black_box(Box::new([7u64; 3]));
    *line = line!() - 1;
    panic!("unwinds through the frame that owns the box");
}

/// A panic unwinding through the allocating frame: the box is dropped during unwinding,
/// while its frame is still on the stack, so it does not escape.
#[inline(never)]
pub fn freed_by_unwinding(n: u32) -> u32 {
    let mut line = 0;
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    for _ in 0..n {
        let _ = std::panic::catch_unwind(|| {
            let mut l = 0;
            let r =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| panics_holding(&mut l)));
            (r.is_err(), l)
        })
        .map(|(_, l)| line = l);
    }
    std::panic::set_hook(hook);
    line
}

#[inline(never)]
fn alloc_here(keep: &mut Option<Box<[u8; 20]>>) -> u32 {
    if let Some(b) = keep.take() {
        drop(black_box(b)); // freed by a later call of this function, at the same depth
    }
    *keep = Some(black_box(Box::new([3u8; 20])));
    line!() - 1
}

/// The frame test's documented blind spot: a block returned by `alloc_here` and freed by the
/// *next* call of `alloc_here` from the same place. That call sits at the same frame address
/// with the same return address, so the block looks non-escaping although it escaped.
#[inline(never)]
pub fn fooled_frame_test(n: u32) -> u32 {
    let mut keep = None;
    let mut line = 0;
    for _ in 0..n {
        line = alloc_here(&mut keep);
    }
    drop(keep);
    line
}

#[inline(never)]
fn shared_alloc() -> (Box<[u8; 16]>, u32) {
    (black_box(Box::new([5u8; 16])), line!())
}

// Two callers of `shared_alloc`, one generic function's two instances: the same code and
// frame, so each of their calls allocates from the same line at the same stack depth, and a
// stack walk starts from the same place. Only the caller's frame tells the two stacks apart.
#[inline(never)]
fn via<const K: u32>() -> u32 {
    let (b, line) = shared_alloc();
    drop(black_box(b));
    black_box(K) + line
}

/// Alternating calls of `via::<1>` and `via::<2>`, `n` each: one site (`shared_alloc`'s
/// line), two stacks of `n` blocks each. Returns the site's line.
#[inline(never)]
pub fn two_callers_alternating(n: u32) -> u32 {
    let mut line = 0;
    for _ in 0..n {
        line = via::<1>() - 1;
        line = line.min(via::<2>() - 2);
    }
    line
}

/// The stacks of `two_callers_alternating`'s site (`line`) in report `r`: the name of each
/// one's `via` caller and its blocks, sorted.
pub fn stacks_by_caller(r: &alloc_probe::Report, line: u32) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = r
        .stacks
        .iter()
        .filter(|st| {
            let f = r.frames_of(st)[st.site];
            f.file.ends_with("tests/scenarios/sites.rs") && f.line == line
        })
        .map(|st| {
            let caller = r.frames_of(st)[st.site + 1..]
                .iter()
                .find(|f| f.function.contains("via"))
                // Generic arguments, where the symbols have them, dropped: `…::via`.
                .map_or(String::new(), |f| {
                    f.function.split('<').next().unwrap_or("").to_string()
                });
            (caller, st.allocs)
        })
        .collect();
    v.sort();
    v
}
