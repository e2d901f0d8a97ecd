//! The DWARF unwinder: libgcc's `_Unwind_Backtrace`, which reads the `.eh_frame` tables
//! (present in every Rust binary, and in C libraries built with unwind tables). Far slower
//! than a frame-pointer walk (microseconds per stack), it goes through functions built
//! without frame pointers.
//!
//! It is safe in the allocator path: libgcc finds unwind tables through `_dl_find_object`
//! (glibc 2.35 and later) or `dl_iterate_phdr`, and allocates nothing through us (any memory
//! it wants comes from libc's `malloc`, never from the Rust global allocator).

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

/// Unwinds the calling stack: calls `f(ip, cfa)` for each frame, from `walk`'s own frame
/// outwards, until `f` returns false. The context of a function gives the address it will
/// resume at and its canonical frame address (CFA), 16 bytes above its frame record.
/// Returns whether the unwinder reached the end of the stack; `None` where there is no
/// unwinder.
#[inline(never)]
pub(crate) fn walk<F: FnMut(usize, usize) -> bool>(mut f: F) -> Option<bool> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" fn step<F: FnMut(usize, usize) -> bool>(
            ctx: *mut ffi::Context,
            arg: *mut std::ffi::c_void,
        ) -> std::ffi::c_int {
            // SAFETY: `arg` is the `F` that `walk` passed, alive for the whole call.
            let f = unsafe { &mut *(arg as *mut F) };
            // SAFETY: `ctx` is the unwinder's context for the current frame.
            let (ip, cfa) = unsafe { (ffi::_Unwind_GetIP(ctx), ffi::_Unwind_GetCFA(ctx)) };
            if f(ip, cfa) {
                ffi::NO_REASON
            } else {
                ffi::NORMAL_STOP
            }
        }
        // SAFETY: `step::<F>` matches the callback type and only touches `f`, which outlives
        // the call.
        let r = unsafe { ffi::_Unwind_Backtrace(step::<F>, &mut f as *mut F as *mut _) };
        Some(r == ffi::END_OF_STACK)
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        let _ = &mut f;
        None
    }
}
