//! A function without frame pointers in the middle of a stack: the frame-pointer walk stops
//! there, and the DWARF unwinder must carry the stack on to its callers.
//!
//! The function is a few lines of assembly, as a C library built without frame pointers
//! would be: it saves the frame-pointer register, fills it with a value that is no frame
//! address, and calls back into Rust, which allocates. Its unwind table (`.cfi_*`) says
//! where it saved what, as a C compiler's would. Linux only: elsewhere the unwinder is the
//! system's, and there is no frame-pointer walk to fall back from (Windows) or the ABI keeps
//! frame pointers everywhere (macOS).
#![cfg(all(
    any(target_arch = "x86_64", target_arch = "aarch64"),
    target_os = "linux"
))]

use std::ffi::c_void;
use std::hint::black_box;

#[global_allocator]
static ALLOC: alloc_probe::Probe = alloc_probe::Probe::system();

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
std::arch::global_asm!(
    ".pushsection .text.no_fp_trampoline,\"ax\",@progbits",
    ".globl no_fp_trampoline",
    ".type no_fp_trampoline,@function",
    "no_fp_trampoline:",
    ".cfi_startproc",
    "push rbx",
    ".cfi_adjust_cfa_offset 8",
    ".cfi_offset rbx, -16",
    "push rbp",
    ".cfi_adjust_cfa_offset 8",
    ".cfi_offset rbp, -24",
    "sub rsp, 8",
    ".cfi_adjust_cfa_offset 8",
    // Not a frame address: a frame walk reading it must stop.
    "mov rbp, 0x1234",
    "mov rax, rdi",
    "mov rdi, rsi",
    "call rax",
    "add rsp, 8",
    ".cfi_adjust_cfa_offset -8",
    "pop rbp",
    ".cfi_adjust_cfa_offset -8",
    ".cfi_restore rbp",
    "pop rbx",
    ".cfi_adjust_cfa_offset -8",
    ".cfi_restore rbx",
    "ret",
    ".cfi_endproc",
    ".size no_fp_trampoline, .-no_fp_trampoline",
    ".popsection",
);

#[cfg(all(target_arch = "aarch64", target_os = "linux"))]
std::arch::global_asm!(
    ".pushsection .text.no_fp_trampoline,\"ax\",%progbits",
    ".globl no_fp_trampoline",
    ".type no_fp_trampoline,%function",
    "no_fp_trampoline:",
    ".cfi_startproc",
    "stp x29, x30, [sp, #-16]!",
    ".cfi_def_cfa_offset 16",
    ".cfi_offset x29, -16",
    ".cfi_offset x30, -8",
    // Not a frame address: a frame walk reading it must stop.
    "mov x29, #0x1234",
    "mov x9, x0",
    "mov x0, x1",
    "blr x9",
    "ldp x29, x30, [sp], #16",
    ".cfi_def_cfa_offset 0",
    ".cfi_restore x29",
    ".cfi_restore x30",
    "ret",
    ".cfi_endproc",
    ".size no_fp_trampoline, .-no_fp_trampoline",
    ".popsection",
);

extern "C" {
    /// Calls `f(arg)` with the frame-pointer register holding garbage.
    fn no_fp_trampoline(f: extern "C" fn(*mut c_void), arg: *mut c_void);
}

type Out = Vec<Box<[u8; 48]>>;

const N: usize = 25;

extern "C" fn allocate(arg: *mut c_void) {
    // SAFETY: `through_c` passes a `&mut Out`.
    let out = unsafe { &mut *(arg as *mut Out) };
    for i in 0..N {
        out.push(black_box(Box::new([i as u8; 48])));
        drop(black_box(Box::new([i as u8; 32])));
    }
}

/// The line of the first thing in this file that starts with `text`.
fn line_of(text: &str) -> u32 {
    let src = include_str!("unwind_fallback.rs");
    let at = src.find(text).unwrap();
    src[..at].lines().count() as u32
}

#[inline(never)]
fn through_c(out: &mut Out) {
    // SAFETY: the trampoline calls `allocate` with the pointer we give, which is a live
    // `&mut Out`, and follows the C calling convention (it saves what it changes).
    unsafe { no_fp_trampoline(allocate, out as *mut Out as *mut c_void) };
}

#[inline(never)]
fn outer_caller() -> Out {
    let mut out = Vec::with_capacity(N);
    through_c(&mut out);
    out
}

#[test]
fn stacks_go_on_past_a_function_without_frame_pointers() {
    // This thread's walks have reached its outermost frame before (the test harness
    // allocated on it), so the walk that stops in the trampoline is known to stop short.
    black_box(Box::new(1u64));
    let kept = black_box(outer_caller());
    assert_eq!(kept.len(), N);

    let r = alloc_probe::report();
    let line = line_of("out.push(black_box(Box::new(");
    let s = r
        .site(file!(), line)
        .unwrap_or_else(|| panic!("no site at line {line}: {:#?}", r.sites()));
    assert_eq!((s.allocs, s.leaked), (N as u64, N as u64), "{s:#?}");
    assert!(s.function.ends_with("allocate"), "{s:#?}");

    let stacks: Vec<Vec<&str>> = r
        .stacks
        .iter()
        .filter(|st| r.frames_of(st).get(st.site).is_some_and(|f| f.line == line))
        .map(|st| {
            r.frames_of(st)
                .iter()
                .map(|f| f.function.as_str())
                .collect()
        })
        .collect();
    assert!(!stacks.is_empty());
    for frames in &stacks {
        let has = |name: &str| frames.iter().any(|f| f.ends_with(name));
        assert!(has("no_fp_trampoline"), "{frames:#?}");
        // Only the unwinder gets past the trampoline.
        assert!(has("through_c"), "{frames:#?}");
        assert!(has("outer_caller"), "{frames:#?}");
        assert!(
            has("stacks_go_on_past_a_function_without_frame_pointers"),
            "{frames:#?}"
        );
    }
    drop(kept);

    // The unwinder's frames name the same frame records as the chain's, so a block freed
    // before `allocate` returned is found non-escaping.
    let s = r
        .site(file!(), line_of("drop(black_box(Box::new("))
        .unwrap();
    assert_eq!(
        (s.allocs, s.non_escaping, s.escaped),
        (N as u64, N as u64, 0),
        "{s:#?}"
    );
}

extern "C" fn allocate_small(arg: *mut c_void) {
    // SAFETY: the test passes a `&mut Vec<Box<u64>>`.
    let out = unsafe { &mut *(arg as *mut Vec<Box<u64>>) };
    for i in 0..N {
        out.push(black_box(Box::new(i as u64)));
    }
}

#[test]
fn a_thread_with_a_small_stack_survives_the_unwinder() {
    // regex-syntax's tests drop deep trees on 16 KiB threads: the unwinder's state must not
    // overflow such a stack (it did, killing the process), and every block still counts.
    let (kept, allocs) = std::thread::Builder::new()
        .stack_size(16 << 10)
        .spawn(|| {
            black_box(Box::new(1u64));
            let (kept, s) = alloc_probe::measure(|| {
                let mut out: Vec<Box<u64>> = Vec::with_capacity(N);
                // SAFETY: as in `through_c`.
                unsafe { no_fp_trampoline(allocate_small, &mut out as *mut _ as *mut c_void) };
                out
            });
            (kept.len(), s.allocs)
        })
        .unwrap()
        .join()
        .unwrap();
    // The vector, then a box per round.
    assert_eq!((kept, allocs), (N, 1 + N as u64));
}
