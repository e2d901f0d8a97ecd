//! The site scenarios again in a release build (inlining, optimised frames): builds and runs
//! `examples/sites_release.rs` with `cargo build --release` and checks every line it prints.

use std::process::Command;

#[test]
fn release_build_reports_the_same_sites_and_classes() {
    let root = env!("CARGO_MANIFEST_DIR");
    let status = Command::new(env!("CARGO"))
        .args([
            "build",
            "--quiet",
            "--release",
            "--example",
            "sites_release",
        ])
        .current_dir(root)
        .status()
        .expect("run cargo");
    assert!(status.success(), "cargo build --release failed");
    let out = Command::new(format!("{root}/target/release/examples/sites_release"))
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
    let expected = [
        "box_freed_in_place allocs=1000 bytes=24000 reallocs=0 non_escaping=1000 stack_avoidable=1000 escaped=0 temporary=1000 leaked=0 freed_elsewhere=0 kind=stack-avoidable",
        "box_returned allocs=500 bytes=4000 reallocs=0 non_escaping=0 stack_avoidable=0 escaped=500 temporary=0 leaked=0 freed_elsewhere=0 kind=escapes",
        "growing_vec allocs=200 bytes=202400 reallocs=1200 non_escaping=200 stack_avoidable=0 escaped=0 temporary=1400 leaked=0 freed_elsewhere=0 kind=reusable-buffer",
        "big_temporary allocs=20 bytes=20971520 reallocs=0 non_escaping=20 stack_avoidable=0 escaped=0 temporary=20 leaked=0 freed_elsewhere=0 kind=non-escaping",
        "leak allocs=30 bytes=480 reallocs=0 non_escaping=0 stack_avoidable=0 escaped=30 temporary=0 leaked=30 freed_elsewhere=0 kind=leaked",
        "sent_to_thread allocs=64 bytes=3072 reallocs=0 non_escaping=0 stack_avoidable=0 escaped=64 temporary=0 leaked=0 freed_elsewhere=64 kind=escapes",
        "freed_by_unwinding allocs=10 bytes=240 reallocs=0 non_escaping=10 stack_avoidable=10 escaped=0 temporary=0 leaked=0 freed_elsewhere=0 kind=stack-avoidable",
        "fooled_frame_test allocs=100 bytes=2000 reallocs=0 non_escaping=99 stack_avoidable=99 escaped=1 temporary=100 leaked=0 freed_elsewhere=0 kind=stack-avoidable",
        "two_callers stacks=via:300,via:300",
    ];
    let got: Vec<String> = text
        .lines()
        .map(|l| {
            // Drop the line number, which the debug test checks against line!().
            l.split(' ')
                .filter(|w| !w.starts_with("line="))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    assert_eq!(got, expected, "full output:\n{text}");
}
