//! Tells the allocator path whether this build has frame pointers, and whether the jemalloc
//! backend is in it.
//!
//! The stack walk follows the frame-pointer register from alloc-probe's allocator entry, which
//! is compiled with the same flags as the program. Without frame pointers that register is an
//! ordinary one: it may hold a stack address all the same, and a walk from it would read
//! locals as return addresses. So without `-C force-frame-pointers=yes` (or a target whose
//! ABI keeps frame pointers), every stack comes from the DWARF unwinder, and the frame test
//! for non-escaping blocks is off (see `stack.rs`).

fn main() {
    println!("cargo::rustc-check-cfg=cfg(alloc_probe_frame_pointers)");
    println!("cargo::rustc-check-cfg=cfg(alloc_probe_jemalloc)");
    let target = |key: &str| std::env::var(format!("CARGO_CFG_TARGET_{key}")).unwrap_or_default();
    // jemalloc does not build for Windows: there the feature adds nothing.
    if std::env::var_os("CARGO_FEATURE_JEMALLOC").is_some() && target("OS") != "windows" {
        println!("cargo::rustc-cfg=alloc_probe_jemalloc");
    }
    // On Windows x64 the frame-pointer register points into a frame at an offset of the
    // compiler's choosing, not at a saved pair: frames do not form a chain to walk there.
    if target("OS") == "windows" {
        return;
    }
    println!("cargo::rerun-if-env-changed=CARGO_ENCODED_RUSTFLAGS");
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let mut on = target("VENDOR") == "apple";
    let mut args = flags.split('\x1f');
    while let Some(a) = args.next() {
        // `-C force-frame-pointers=yes`, `-Cforce-frame-pointers=yes`, `--codegen ...`.
        let value = match a.strip_prefix("-C").or_else(|| a.strip_prefix("--codegen")) {
            Some("") => args.next().unwrap_or(""),
            Some(v) => v.trim_start_matches('='),
            None => continue,
        };
        if let Some(setting) = value.strip_prefix("force-frame-pointers") {
            on = matches!(
                setting.trim_start_matches('='),
                "" | "yes" | "y" | "on" | "true" | "always"
            );
        }
    }
    if on {
        println!("cargo::rustc-cfg=alloc_probe_frame_pointers");
    }
}
