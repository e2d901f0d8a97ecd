//! The runtime's allocations (libtest's own, the standard library's one-time set-up) stay in
//! a report's totals but out of its tables and leak lists, counted in a line of their own.

use std::hint::black_box;

#[global_allocator]
static ALLOC: alloc_probe::Probe = alloc_probe::Probe::system();

#[test]
fn the_harness_and_std_set_up_are_runtime() {
    let kept = black_box(vec![7u8; 100]);
    let line = line!() - 1;
    let r = alloc_probe::report();

    let mine = r.site(file!(), line).expect("this test's site");
    assert!(!mine.runtime);
    let runtime: Vec<_> = r.sites().iter().filter(|s| s.runtime).collect();
    assert!(
        !runtime.is_empty(),
        "libtest allocates before the test runs"
    );
    for s in &runtime {
        assert!(
            !s.function
                .ends_with("the_harness_and_std_set_up_are_runtime"),
            "the test's own allocations are not runtime: {s:#?}"
        );
    }
    // libtest's, made under the harness's generated `main`, and std's thread set-up.
    assert!(
        runtime.iter().any(|s| s.function.ends_with("::main")),
        "{runtime:#?}"
    );
    // (Where the standard library's site lies differs by platform: `std/src/thread/...` on
    // Linux, `alloc/src/alloc.rs` inlined into `std::sys::pal::windows::to_u16s` on Windows.)
    let toolchain = ["std/src/", "alloc/src/", "core/src/"];
    assert!(
        runtime
            .iter()
            .any(|s| toolchain.iter().any(|t| s.file.starts_with(t))),
        "{runtime:#?}"
    );
    // Still in the totals.
    let all: u64 = r.sites().iter().map(|s| s.allocs).sum();
    let own: u64 = r
        .sites()
        .iter()
        .filter(|s| !s.runtime)
        .map(|s| s.allocs)
        .sum();
    assert!(all > own);

    let text = format!("{r:#}");
    let (head, tables) = text.split_once("\nTop sites").expect("the tables");
    assert!(head.contains("  runtime (the test harness"), "{head}");
    for s in &runtime {
        let place = format!("{}:{} ", s.file, s.line);
        assert!(!tables.contains(&place), "{place} listed:\n{tables}");
    }
    assert!(tables.contains(&format!(":{line} the_harness")), "{tables}");
    drop(kept);
}
