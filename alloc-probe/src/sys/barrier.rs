//! The process-wide write barrier: a full memory barrier on every thread of the process, in
//! its own instruction stream, paid for by the caller alone (Linux `membarrier`). The solo
//! writer's plain stores rely on it (see `counters::solo`).

const MEMBARRIER_CMD_GLOBAL: libc::c_long = 1;
const MEMBARRIER_CMD_PRIVATE_EXPEDITED: libc::c_long = 1 << 3;
const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_long = 1 << 4;

fn membarrier(cmd: libc::c_long) -> bool {
    // SAFETY: the membarrier system call with no pointer arguments.
    unsafe { libc::syscall(libc::SYS_membarrier, cmd, 0, 0) == 0 }
}

/// Prepares the fast barrier; false where the kernel offers none, when no thread may rely on
/// [`fence_all_threads`].
pub(crate) fn register() -> bool {
    membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED)
}

/// A full memory barrier on every thread of the process. After [`register`] the expedited
/// command does not fail; the global one is the slow, always-available equivalent.
pub(crate) fn fence_all_threads() {
    if !membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) {
        membarrier(MEMBARRIER_CMD_GLOBAL);
    }
}
