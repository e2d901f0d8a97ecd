//! Tells the allocator path whether this build has frame pointers.
//!
//! The stack walk follows the frame-pointer register from alloc-probe's allocator entry, which
//! is compiled with the same flags as the program. Without frame pointers that register is an
//! ordinary one: it may hold a stack address all the same, and a walk from it would read
//! locals as return addresses. So without `-C force-frame-pointers=yes` (or a target whose
//! ABI keeps frame pointers), every stack comes from the DWARF unwinder, and the frame test
//! for non-escaping blocks is off (see `stack.rs`).

fn main() {
    println!("cargo::rustc-check-cfg=cfg(alloc_probe_frame_pointers)");
    println!("cargo::rerun-if-env-changed=CARGO_ENCODED_RUSTFLAGS");
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let mut on = std::env::var("CARGO_CFG_TARGET_VENDOR").is_ok_and(|v| v == "apple");
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
