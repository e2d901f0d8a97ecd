//! The fallback for stacks the frame-pointer walk cannot finish: the DWARF unwinder.
//!
//! Code built without frame pointers (a C library, a crate with other flags) may use the
//! frame-pointer register for data, so the walk in `stack` stops at the first such function.
//! When a walk stops short of where this thread's walks have reached before, the stack is
//! captured again by libgcc's `_Unwind_Backtrace`, which reads the `.eh_frame` tables (present
//! in every Rust binary, and in C libraries built with unwind tables). It is far slower
//! (microseconds per stack), so it runs only for those stacks.
//!
//! It is safe in the allocator path: libgcc finds unwind tables through `_dl_find_object`
//! (glibc 2.35 and later) or `dl_iterate_phdr`, and allocates nothing through us (any memory
//! it wants comes from libc's `malloc`, never from the Rust global allocator).

use crate::stack::{Captured, MAX_FRAMES};

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod ffi {
    use std::ffi::{c_int, c_void};

    pub type Context = c_void;
    pub type Trace = extern "C" fn(ctx: *mut Context, arg: *mut c_void) -> c_int;
    pub const NO_REASON: c_int = 0;
    pub const NORMAL_STOP: c_int = 4;
    pub const END_OF_STACK: c_int = 5;

    extern "C" {
        pub fn _Unwind_Backtrace(trace: Trace, arg: *mut c_void) -> c_int;
        pub fn _Unwind_GetIP(ctx: *mut Context) -> usize;
        pub fn _Unwind_GetCFA(ctx: *mut Context) -> usize;
    }
}

/// Which frames at the top of the unwound stack, alloc-probe's own, a walk leaves out.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[derive(Clone, Copy)]
enum Skip {
    /// Those below the frame record at this address, the allocator entry's that the frame
    /// walk starts from, so that `ips[0]` is, as in a frame walk, the return address saved
    /// in it.
    Below(usize),
    /// This many: this module's `capture` and its caller, alloc-probe's own (reports drop any
    /// more of ours by symbol). For a start that is not a frame record on the unwound chain
    /// (a function built without frame pointers holds something else in the frame-pointer
    /// register), which would otherwise leave out the whole stack, or the caller's part of it;
    /// and where the caller gives no start (a build without frame pointers).
    Count(usize),
}

/// What the callback fills in.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
struct Walk<'a> {
    out: &'a mut Captured,
    hi: usize,
    skip: Skip,
    /// Frames seen so far, ours included.
    seen: usize,
    /// Return addresses recorded.
    kept: usize,
}

/// The first pass: whether some frame on the unwound chain has its record at `*arg`.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
extern "C" fn find(ctx: *mut ffi::Context, arg: *mut std::ffi::c_void) -> std::ffi::c_int {
    // SAFETY: `arg` is the `(start, found)` pair `capture` passed, alive for the whole call.
    let (start, found) = unsafe { &mut *(arg as *mut (usize, bool)) };
    // SAFETY: `ctx` is the unwinder's context for the current frame.
    let record = unsafe { ffi::_Unwind_GetCFA(ctx) }.saturating_sub(16);
    if record == *start {
        *found = true;
        return ffi::NORMAL_STOP;
    }
    if record > *start {
        return ffi::NORMAL_STOP;
    }
    ffi::NO_REASON
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
extern "C" fn step(ctx: *mut ffi::Context, arg: *mut std::ffi::c_void) -> std::ffi::c_int {
    // SAFETY: `arg` is the `Walk` that `capture` passed, alive for the whole call.
    let w = unsafe { &mut *(arg as *mut Walk) };
    // SAFETY: `ctx` is the unwinder's context for the current frame.
    let (ip, cfa) = unsafe { (ffi::_Unwind_GetIP(ctx), ffi::_Unwind_GetCFA(ctx)) };
    // The context of function F gives the return address into F's caller and F's CFA, 16
    // bytes above F's frame record.
    w.seen += 1;
    let ours = match w.skip {
        Skip::Below(start) => cfa.saturating_sub(16) < start,
        Skip::Count(n) => w.seen <= n,
    };
    if ours {
        return ffi::NO_REASON;
    }
    let n = w.kept;
    if ip == 0 || n > MAX_FRAMES {
        return ffi::NORMAL_STOP;
    }
    w.out.ips[n] = ip;
    if n > 0 {
        // The unwinder's context for the frame running `ip` carries the canonical frame
        // address (CFA) of the frame below it, the one `ip` returns from: the function running
        // `ips[n - 1]`. The frame walk's convention is that `frames[n - 1]` is where that
        // function's frame record sits, which is 16 bytes below its CFA, as an offset below
        // the stack top; the record holds the return address `ips[n]`. A function without a
        // frame record has nothing there on the frame-pointer chain, so `first_live` never
        // takes it for a live frame.
        w.out.frames[n - 1] = w.hi.saturating_sub(cfa.saturating_sub(16)) as u32;
    }
    w.kept += 1;
    ffi::NO_REASON
}

/// Captures the calling stack with the DWARF unwinder into `out`, in the frame walk's format
/// (see [`Captured`]), hash included. `start` is the frame record the frame walk started
/// from, if the caller can vouch that it is one of this stack's (`None` in a build without
/// frame pointers, where it may be any caller's: skipping below it could drop the program's
/// own frames). Returns false where there is no unwinder.
#[inline(never)]
pub(crate) fn capture(start: Option<usize>, hi: usize, out: &mut Captured) -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        out.len = 0;
        out.complete = false;
        // Two passes (this is the rare, slow path): the first finds out whether `start` is a
        // frame record on the chain.
        let mut skip = Skip::Count(2);
        if let Some(start) = start {
            let mut probe = (start, false);
            // SAFETY: `find` matches the callback type and only touches `probe`, which
            // outlives the call.
            unsafe { ffi::_Unwind_Backtrace(find, &mut probe as *mut (usize, bool) as *mut _) };
            if probe.1 {
                skip = Skip::Below(start);
            }
        }
        let mut w = Walk {
            out,
            hi,
            skip,
            seen: 0,
            kept: 0,
        };
        // SAFETY: `step` matches the callback type and only touches `w`, which outlives the
        // call.
        let r = unsafe { ffi::_Unwind_Backtrace(step, &mut w as *mut Walk as *mut _) };
        let kept = w.kept;
        let out = w.out;
        out.len = kept.saturating_sub(1);
        out.complete = r == ffi::END_OF_STACK;
        out.hash = if kept == 0 {
            0
        } else {
            crate::stack::hash(out)
        };
        true
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        let _ = (start, hi, out);
        false
    }
}
