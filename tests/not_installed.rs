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
