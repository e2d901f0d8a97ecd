//! The foundation: what alloc-probe needs from the platform and the process's environment,
//! with no policy of its own. Memory off the program's heap, a clock, a spin lock, the
//! settings, the reentrancy guard, the thread's stack and the unwinder, the process-wide
//! barrier, raw threads, and the hooks the C runtime calls at exit and around `fork`.
//!
//! Nothing here imports the rest of the crate, and nothing here allocates through the global
//! allocator (but for the guard's users, which hold it while they do).

pub(crate) mod barrier;
pub(crate) mod clock;
pub(crate) mod env;
pub(crate) mod guard;
pub(crate) mod hooks;
#[cfg(alloc_probe_jemalloc)]
pub(crate) mod jemalloc;
pub(crate) mod pages;
pub(crate) mod settings;
pub(crate) mod spin;
pub(crate) mod stack;
pub(crate) mod thread;
pub(crate) mod unwind;
