//! Counting under concurrency, thread exit, thread-local destructors and any alignment.

use std::alloc::{alloc, dealloc, realloc, Layout};
use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::thread;

use alloc_probe::measure;

#[test]
fn measure_ignores_other_threads() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
    let stop = Arc::new(AtomicBool::new(false));
    let made = Arc::new(AtomicU64::new(0));
    let noisy = {
        let (stop, made) = (stop.clone(), made.clone());
        thread::spawn(move || {
            while !stop.load(Relaxed) {
                black_box(vec![0u64; 16]);
                made.fetch_add(1, Relaxed);
            }
        })
    };
    while made.load(Relaxed) == 0 {
        thread::yield_now();
    }
    let noisy_before = made.load(Relaxed);
    for _ in 0..20 {
        let ((), s) = measure(|| {
            for i in 0..500u32 {
                drop(black_box(Box::new(i)));
                if i % 100 == 0 {
                    thread::yield_now(); // let the other thread allocate meanwhile
                }
            }
        });
        assert_eq!(s.allocs, 500);
        assert_eq!(s.deallocs, 500);
        assert_eq!(s.bytes_allocated, 2000);
    }
    stop.store(true, Relaxed);
    noisy.join().unwrap();
    assert!(
        made.load(Relaxed) > noisy_before,
        "the other thread allocated meanwhile"
    );
}

#[test]
fn many_threads_lose_no_count() {
    const THREADS: usize = 12;
    const PER: u64 = 20_000;
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let barrier = barrier.clone();
            thread::spawn(move || {
                barrier.wait();
                let ((), s) = measure(|| {
                    for i in 0..PER {
                        drop(black_box(Box::new(i)));
                        let mut v = black_box(Vec::with_capacity(1));
                        v.push(i as u8);
                        v.push(1); // one realloc
                        black_box(&v);
                    }
                });
                s
            })
        })
        .collect();
    for h in handles {
        let s = h.join().unwrap();
        assert_eq!(s.allocs, 2 * PER);
        assert_eq!(s.reallocs, PER);
        assert_eq!(s.deallocs, 2 * PER);
        // The box (8), the first buffer (1) and its growth to the minimum non-zero capacity
        // of a byte vector (8).
        assert_eq!(s.bytes_allocated, PER * (8 + 1 + 8));
    }
}

#[test]
fn process_totals_see_every_thread_and_exact_peak() {
    // Two threads hold 1 MiB each at the same moment: the process peak must reach 2 MiB more
    // than what was live before, and the totals must include both threads' work, also after
    // the threads exited and handed their counters back.
    let before = alloc_probe::stats();
    let barrier = Arc::new(Barrier::new(3));
    let hs: Vec<_> = (0..2)
        .map(|_| {
            let b = barrier.clone();
            thread::spawn(move || {
                let v = black_box(vec![1u8; 1 << 20]);
                b.wait(); // both hold their MiB
                b.wait();
                drop(v);
            })
        })
        .collect();
    barrier.wait();
    let during = alloc_probe::stats();
    barrier.wait();
    for h in hs {
        h.join().unwrap();
    }
    let after = alloc_probe::stats();
    assert!(during.live_bytes >= 2 << 20, "{during:?}");
    assert!(after.peak_live_bytes >= 2 << 20, "{after:?}");
    // Not `after.peak_live_bytes >= during.live_bytes`: other tests allocate meanwhile, and a
    // sum of per-thread counters read one after another can exceed every instant's live bytes.
    let d = after - before;
    assert!(d.allocs >= 2 && d.bytes_allocated >= 2 << 20, "{d:?}");
    assert!(d.bytes_deallocated >= 2 << 20, "{d:?}");
}

thread_local! {
    static ALLOCATES_IN_DROP: DropAllocates = const { DropAllocates };
}

struct DropAllocates;

impl Drop for DropAllocates {
    fn drop(&mut self) {
        // Runs during thread-local teardown, possibly after the probe released this thread's
        // counters: it must neither crash nor lose the count.
        let v = black_box(vec![0u8; 777]);
        drop(v);
        let s = black_box(format!("{}", 12345));
        drop(s);
    }
}

#[test]
fn thread_local_destructors_that_allocate() {
    let before = alloc_probe::stats();
    for _ in 0..8 {
        thread::spawn(|| {
            ALLOCATES_IN_DROP.with(|_| ());
            drop(black_box(Box::new(1u8)));
        })
        .join()
        .unwrap();
    }
    let d = alloc_probe::stats() - before;
    // Each thread: its own box, the two allocations in the destructor, plus whatever the
    // runtime allocates for a thread; all of them are counted somewhere.
    assert!(d.allocs >= 8 * 3, "{d:?}");
    assert!(d.bytes_allocated >= 8 * (1 + 777 + 5), "{d:?}");
}

#[test]
fn any_alignment_up_to_1_mib() {
    let mut align = 1usize;
    while align <= 1 << 20 {
        for size in [1usize, align, 3 * align + 1] {
            let layout = Layout::from_size_align(size, align).unwrap();
            let ((), s) = measure(|| {
                // SAFETY: layout has a non-zero size; the block is written within its size,
                // reallocated with its own layout and freed with the layout it then has.
                unsafe {
                    let p = alloc(layout);
                    assert!(!p.is_null());
                    assert_eq!(p as usize % align, 0, "alignment {align}");
                    p.write(7);
                    let q = realloc(p, layout, size * 2);
                    assert!(!q.is_null());
                    assert_eq!(q as usize % align, 0, "alignment {align} after realloc");
                    assert_eq!(q.read(), 7);
                    dealloc(q, Layout::from_size_align(size * 2, align).unwrap());
                }
            });
            assert_eq!(s.allocs, 1);
            assert_eq!(s.reallocs, 1);
            assert_eq!(s.deallocs, 1);
            assert_eq!(s.bytes_allocated, (size + size * 2) as u64);
            assert_eq!(s.bytes_deallocated, (size + size * 2) as u64);
        }
        align *= 2;
    }
}
