//! Without `Probe` as the global allocator, the API fails loudly instead of returning zeros.

fn message(f: impl FnOnce() + std::panic::UnwindSafe) -> String {
    let err = std::panic::catch_unwind(f).expect_err("should panic");
    err.downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap()
}

#[test]
fn every_entry_point_says_how_to_install() {
    for msg in [
        message(|| {
            alloc_probe::stats();
        }),
        message(|| {
            alloc_probe::measure(|| ());
        }),
        message(|| {
            alloc_probe::allocs_per_run(1, || ());
        }),
    ] {
        assert!(msg.contains("not this program's global allocator"), "{msg}");
        assert!(msg.contains("#[global_allocator]"), "{msg}");
    }
}

#[alloc_probe::track_allocs]
fn tracked() -> Vec<u8> {
    vec![1, 2, 3]
}

/// A tracked call claims counters for its thread, but that does not make `Probe` the global
/// allocator: the API still says so, and the exit (which this binary reaches after the tests)
/// does not try to report.
#[test]
fn a_tracked_call_does_not_install_the_probe() {
    assert_eq!(std::hint::black_box(tracked()).len(), 3);
    let msg = message(|| {
        alloc_probe::stats();
    });
    assert!(msg.contains("not this program's global allocator"), "{msg}");
}
