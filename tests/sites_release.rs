//! The site scenarios again in release builds (inlining, optimised frames): builds and runs
//! `examples/sites_release.rs` with `cargo build --release` and checks every line it prints,
//! once as the workspace builds it (with frame pointers, `.cargo/config.toml`) and once
//! without frame pointers, where every stack comes from the unwinder and the frame test is off.

use std::process::Command;

/// Builds the example into `target_dir` (the workspace's own when `None`) with `rustflags`
/// (the configuration's when `None`), runs it, and returns its output with the line numbers
/// dropped (the debug test checks them against `line!()`).
fn run_example(target_dir: Option<&str>, rustflags: Option<&str>) -> (Vec<String>, String) {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut build = Command::new(env!("CARGO"));
    build
        .args([
            "build",
            "--quiet",
            "--release",
            "--example",
            "sites_release",
        ])
        .current_dir(root)
        .env_remove("CARGO_ENCODED_RUSTFLAGS");
    if let Some(dir) = target_dir {
        build.arg("--target-dir").arg(format!("{root}/{dir}"));
    }
    if let Some(flags) = rustflags {
        build.env("RUSTFLAGS", flags);
    }
    let status = build.status().expect("run cargo");
    assert!(status.success(), "cargo build --release failed");
    let dir = target_dir.unwrap_or("target");
    let out = Command::new(format!("{root}/{dir}/release/examples/sites_release"))
        .env("ALLOC_PROBE_REPORT", "off")
        .env_remove("ALLOC_PROBE_MODE")
        .output()
        .expect("run the release example");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let got = text
        .lines()
        .map(|l| {
            l.split(' ')
                .filter(|w| !w.starts_with("line="))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    (got, text)
}

#[test]
fn release_build_reports_the_same_sites_and_classes() {
    let (got, text) = run_example(None, None);
    let expected = [
        "box_freed_in_place allocs=1000 bytes=24000 reallocs=0 non_escaping=1000 stack_avoidable=1000 escaped=0 temporary=1000 leaked=0 freed_elsewhere=0 kind=stack-avoidable",
        "box_returned allocs=500 bytes=4000 reallocs=0 non_escaping=0 stack_avoidable=0 escaped=500 temporary=0 leaked=0 freed_elsewhere=0 kind=escapes",
        "growing_vec allocs=200 bytes=202400 reallocs=1200 non_escaping=200 stack_avoidable=0 escaped=0 temporary=1400 leaked=0 freed_elsewhere=0 kind=reusable-buffer",
        "big_temporary allocs=20 bytes=20971520 reallocs=0 non_escaping=20 stack_avoidable=0 escaped=0 temporary=20 leaked=0 freed_elsewhere=0 kind=non-escaping",
        "leak allocs=30 bytes=480 reallocs=0 non_escaping=0 stack_avoidable=0 escaped=30 temporary=0 leaked=30 freed_elsewhere=0 kind=leaked",
        "sent_to_thread allocs=64 bytes=3072 reallocs=0 non_escaping=0 stack_avoidable=0 escaped=64 temporary=0 leaked=0 freed_elsewhere=64 kind=escapes",
        "sent_to_stale_thread allocs=32 bytes=1280 reallocs=0 non_escaping=0 stack_avoidable=0 escaped=32 temporary=0 leaked=0 freed_elsewhere=32 kind=escapes",
        "freed_by_unwinding allocs=10 bytes=240 reallocs=0 non_escaping=10 stack_avoidable=10 escaped=0 temporary=0 leaked=0 freed_elsewhere=0 kind=stack-avoidable",
        "fooled_frame_test allocs=100 bytes=2000 reallocs=0 non_escaping=99 stack_avoidable=99 escaped=1 temporary=100 leaked=0 freed_elsewhere=0 kind=stack-avoidable",
        "two_monomorphisations allocs=100 bytes=900 reallocs=0 non_escaping=0 stack_avoidable=0 escaped=100 temporary=0 leaked=0 freed_elsewhere=0 kind=escapes",
        "two_callers stacks=via:300,via:300",
        "path=sites_release::scenarios::box_freed_in_place",
        "inlined_site verdict=stack-avoidable (40/40, 8 B, freed in inlined_site, frame test (boxed_inline is inlined there))",
        "frame_test=true",
    ];
    assert_eq!(got, expected, "full output:\n{text}");
}

/// Without frame pointers the frame-pointer register may hold any caller's frame, so a walk
/// from it would give wrong stacks: every stack comes from the unwinder. Sites and counts are
/// the same as with frame pointers; whether a block was freed before its function returned
/// is unknown, so blocks freed on their own thread count as escaped, with an `unknown`
/// verdict.
#[test]
fn without_frame_pointers_sites_are_the_same_and_the_frame_test_is_off() {
    let (got, text) = run_example(
        Some("target/no-frame-pointers"),
        Some("-C force-frame-pointers=no"),
    );
    let expected = [
        "box_freed_in_place allocs=1000 bytes=24000 reallocs=0 non_escaping=0 stack_avoidable=0 escaped=1000 temporary=1000 leaked=0 freed_elsewhere=0 kind=unknown",
        "box_returned allocs=500 bytes=4000 reallocs=0 non_escaping=0 stack_avoidable=0 escaped=500 temporary=0 leaked=0 freed_elsewhere=0 kind=unknown",
        "growing_vec allocs=200 bytes=202400 reallocs=1200 non_escaping=0 stack_avoidable=0 escaped=200 temporary=1400 leaked=0 freed_elsewhere=0 kind=unknown",
        "big_temporary allocs=20 bytes=20971520 reallocs=0 non_escaping=0 stack_avoidable=0 escaped=20 temporary=20 leaked=0 freed_elsewhere=0 kind=unknown",
        "leak allocs=30 bytes=480 reallocs=0 non_escaping=0 stack_avoidable=0 escaped=30 temporary=0 leaked=30 freed_elsewhere=0 kind=leaked",
        "sent_to_thread allocs=64 bytes=3072 reallocs=0 non_escaping=0 stack_avoidable=0 escaped=64 temporary=0 leaked=0 freed_elsewhere=64 kind=escapes",
        "sent_to_stale_thread allocs=32 bytes=1280 reallocs=0 non_escaping=0 stack_avoidable=0 escaped=32 temporary=0 leaked=0 freed_elsewhere=32 kind=escapes",
        "freed_by_unwinding allocs=10 bytes=240 reallocs=0 non_escaping=0 stack_avoidable=0 escaped=10 temporary=0 leaked=0 freed_elsewhere=0 kind=unknown",
        "fooled_frame_test allocs=100 bytes=2000 reallocs=0 non_escaping=0 stack_avoidable=0 escaped=100 temporary=100 leaked=0 freed_elsewhere=0 kind=unknown",
        "two_monomorphisations allocs=100 bytes=900 reallocs=0 non_escaping=0 stack_avoidable=0 escaped=100 temporary=0 leaked=0 freed_elsewhere=0 kind=unknown",
        "two_callers stacks=via:300,via:300",
        "path=sites_release::scenarios::box_freed_in_place",
        "inlined_site verdict=unknown (freed on its own thread 100%; whether before boxed_inline returned is unknown: built without frame pointers)",
        "frame_test=false",
    ];
    assert_eq!(got, expected, "full output:\n{text}");
}
