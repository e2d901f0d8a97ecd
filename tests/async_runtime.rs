//! Tracked `async fn`s on tokio's multi-thread runtime, as a server runs its handlers: a
//! call's polls move between the workers, and a block born and freed within one call stayed
//! inside it, whichever worker polled the call when it was freed.

use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use alloc_probe::track_allocs;

#[global_allocator]
static ALLOC: alloc_probe::Probe = alloc_probe::Probe::system();

/// Calls whose buffer was freed on another thread than the one it was born on.
static MOVED: AtomicUsize = AtomicUsize::new(0);

/// Which thread this is, without allocating (`thread::current()` may allocate the handle).
fn thread_id() -> usize {
    thread_local!(static HERE: u8 = const { 0 });
    HERE.with(|h| h as *const u8 as usize)
}

const BUF_LINE: u32 = line!() + 4;

#[track_allocs]
async fn handler(n: usize) -> usize {
    let buf = black_box(vec![7u8; n]);
    let born = thread_id();
    for _ in 0..4 {
        tokio::task::yield_now().await;
    }
    if thread_id() != born {
        MOVED.fetch_add(1, Relaxed);
    }
    let len = buf.len();
    drop(buf);
    len
}

#[test]
fn blocks_freed_inside_their_async_call_stay_in_it_on_any_worker() {
    const CALLS: usize = 400;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .build()
        .unwrap();
    let total = rt.block_on(async {
        let tasks: Vec<_> = (0..CALLS)
            .map(|i| tokio::spawn(handler(16 + i % 8)))
            .collect();
        let mut total = 0;
        for t in tasks {
            total += t.await.unwrap();
        }
        total
    });
    drop(rt);
    assert_eq!(total, (0..CALLS).map(|i| 16 + i % 8).sum::<usize>());
    // Without calls that moved, this test would not test anything.
    let moved = MOVED.load(Relaxed);
    assert!(moved > 0, "no call moved between workers");

    let r = alloc_probe::report();
    let f = r.function("handler").expect("the tracked handler");
    assert_eq!(f.calls, CALLS as u64);
    // The buffers, and the queue each worker grows once for `yield_now`, which it keeps.
    assert!(f.allocs >= CALLS as u64);
    assert_eq!(f.non_escaping, CALLS as u64, "{moved} calls moved");
    let site = r.site(file!(), BUF_LINE).expect("the buffer's site");
    assert_eq!(site.allocs, CALLS as u64);
    assert_eq!((site.non_escaping, site.escaped), (CALLS as u64, 0));
    assert_eq!(site.freed_elsewhere, 0);
}
