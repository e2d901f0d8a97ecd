//! An inner allocator that refuses, and a fork while other threads count.

use std::alloc::Layout;
use std::hint::black_box;

#[path = "support/refusing.rs"]
mod refusing;
use refusing::Refusing;

#[cfg(unix)]
#[path = "support/wait.rs"]
mod wait;
#[cfg(unix)]
use wait::wait_for;

#[global_allocator]
static ALLOC: alloc_probe::Probe<Refusing> = alloc_probe::Probe::new(Refusing);

#[test]
fn refused_calls_count_only_as_failed() {
    let ((), s) = alloc_probe::measure(|| {
        let mut v: Vec<u8> = Vec::new();
        assert!(v.try_reserve_exact(2 << 30).is_err());
        v.push(1);
        assert!(v.try_reserve_exact(2 << 30).is_err(), "refused realloc");
        black_box(&v);
        // SAFETY: a valid non-zero layout; the null result is checked.
        let p = unsafe { std::alloc::alloc(Layout::from_size_align(3 << 30, 8).unwrap()) };
        assert!(p.is_null());
    });
    assert_eq!(s.failed, 3);
    assert_eq!(s.allocs, 1);
    assert_eq!(s.reallocs, 0);
    assert_eq!(s.bytes_allocated, 8);
}

#[cfg(unix)]
#[test]
fn fork_child_keeps_counting() {
    // Another thread is busy allocating while we fork, so a lock held at the moment of the fork
    // would deadlock the child.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let busy = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                black_box(vec![1u8; 100]);
            }
        })
    };
    for _ in 0..20 {
        // SAFETY: the child only allocates, measures and calls _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            let ((), s) = alloc_probe::measure(|| drop(black_box(Box::new([0u8; 40]))));
            let total = alloc_probe::stats();
            let ok = s.allocs == 1 && s.bytes_allocated == 40 && total.allocs >= 1;
            // SAFETY: ends the child without running the parent's atexit handlers.
            unsafe { libc::_exit(if ok { 0 } else { 1 }) };
        }
        let mut status = 0;
        // SAFETY: waits for our own child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    busy.join().unwrap();
}

#[cfg(unix)]
#[test]
fn a_child_forked_while_the_parent_symbolises_builds_its_report() {
    use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
    // Another thread builds reports all the time, so it is inside symbol resolution at most
    // moments a fork happens.
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let busy = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(Relaxed) {
                black_box(alloc_probe::report());
            }
        })
    };
    let mut hung = 0;
    for _ in 0..40 {
        // SAFETY: the child builds a report and calls _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            let ok = !alloc_probe::report().sites.is_empty();
            // SAFETY: ends the child without running the parent's atexit handlers.
            unsafe { libc::_exit(if ok { 0 } else { 1 }) };
        }
        match wait_for(pid, 20) {
            Some(status) => assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0),
            None => hung += 1,
        }
    }
    stop.store(true, Relaxed);
    busy.join().unwrap();
    assert_eq!(hung, 0, "children hung building their report");
}
