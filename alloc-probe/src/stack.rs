//! Stack capture by walking frame pointers.
//!
//! Each frame's saved frame pointer sits at `[fp]` and its return address at `[fp + 8]`. The
//! walk reads only inside this thread's stack bounds, with each step strictly towards the
//! stack's base, so a function built without frame pointers ends the walk early instead of
//! faulting. A walk that ends short of the outermost frame this thread's walks have reached
//! is done again by the DWARF unwinder (`unwind`). Symbols are resolved later, only for
//! unique stacks, when a report is made.

/// The deepest stack kept (frames closest to the allocation).
pub(crate) const MAX_FRAMES: usize = 48;

/// A captured stack.
///
/// `ips[0..=len]` are return addresses, leaf first; `ips[i]` lies in function `H_i`.
/// `frames[i]` (for `i < len`) is the frame address of `H_i`, as an offset below the thread's
/// stack top, and the return address saved in that frame is `ips[i + 1]`: `H_i` is still
/// running iff the word at `frames[i] + 8` still holds `ips[i + 1]`.
pub(crate) struct Captured {
    pub len: usize,
    pub ips: [usize; MAX_FRAMES + 1],
    pub frames: [u32; MAX_FRAMES],
    /// Whether the walk reached the outermost frame (rather than a depth limit or a function
    /// without frame pointers).
    pub complete: bool,
    /// A hash of `len`, `ips` and `frames` (see [`hash`]); not filled in by a walk that
    /// matched its guess.
    pub hash: u64,
}

impl Captured {
    pub(crate) const fn new() -> Captured {
        Captured {
            len: 0,
            ips: [0; MAX_FRAMES + 1],
            frames: [0; MAX_FRAMES],
            complete: false,
            hash: 0,
        }
    }
}

/// Whether this build has frame pointers (see `build.rs`), hence the frame test for
/// non-escaping blocks.
pub(crate) const FRAME_TEST: bool = cfg!(alloc_probe_frame_pointers);

/// Reads a register by its x86-64 and AArch64 names (0 on other targets).
macro_rules! read_register {
    ($x86_64:literal, $aarch64:literal) => {{
        let v: usize;
        #[cfg(target_arch = "x86_64")]
        // SAFETY: copies a register; no memory access.
        unsafe {
            core::arch::asm!(
                concat!("mov {}, ", $x86_64),
                out(reg) v,
                options(nomem, nostack, preserves_flags)
            )
        };
        #[cfg(target_arch = "aarch64")]
        // SAFETY: copies a register; no memory access.
        unsafe {
            core::arch::asm!(
                concat!("mov {}, ", $aarch64),
                out(reg) v,
                options(nomem, nostack, preserves_flags)
            )
        };
        #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
        {
            v = 0;
        }
        v
    }};
}

/// Reads the stack-pointer register: every frame record a walk may read lies above it.
#[inline(always)]
fn stack_pointer() -> usize {
    read_register!("rsp", "sp")
}

/// Reads the frame-pointer register: with frame pointers, the frame record of the function
/// this is inlined into. A walk may start there only while that function is running: read
/// it in the function that calls `capture` or `first_live` (not in one that returns or
/// tail-calls before the walk). Without frame pointers the register holds anything; the
/// walks check what they read.
#[inline(always)]
pub(crate) fn frame_pointer() -> usize {
    read_register!("rbp", "x29")
}

/// Whether `fp` can be read as a frame record inside `[lo, hi)`.
#[inline(always)]
fn valid(fp: usize, lo: usize, hi: usize) -> bool {
    fp >= lo && fp.is_multiple_of(std::mem::align_of::<usize>()) && fp.saturating_add(16) <= hi
}

/// A stack a walk expects to find: the last one captured from the same place (see
/// [`capture`]). Only the first `len` frames and `len + 1` return addresses count.
#[derive(Clone, Copy)]
pub(crate) struct Guess<'a> {
    pub len: usize,
    pub ips: &'a [usize; MAX_FRAMES + 1],
    pub frames: &'a [u32; MAX_FRAMES],
}

impl Guess<'static> {
    /// A guess no walk matches.
    pub(crate) fn none() -> Guess<'static> {
        static IPS: [usize; MAX_FRAMES + 1] = [0; MAX_FRAMES + 1];
        static FRAMES: [u32; MAX_FRAMES] = [0; MAX_FRAMES];
        Guess {
            len: usize::MAX,
            ips: &IPS,
            frames: &FRAMES,
        }
    }
}

/// Captures the stack from the frame record at `start` outwards: `ips[0]` is the return
/// address saved there. The allocator path passes its entry function's frame, so the walk does
/// not step through alloc-probe's own frames (reports drop them by symbol anyway).
/// `lo..hi` are this thread's stack bounds; `bottom` is the outermost frame address this
/// thread's walks have reached (0 at first), which a walk that stops sooner falls back from.
///
/// `guess` is told `ips[0]` and names the stack the walk will likely find. The walk compares
/// each frame with it as it goes, which costs no time it would wait for anyway (each step
/// waits for the load of the next frame's address), and returns true if the whole stack is
/// the guess, frame for frame. Otherwise it returns false and fills in `out.hash`, which a
/// matched walk leaves as it was.
///
/// The outermost frame is not always marked: the main thread's `main` is called by C code
/// that leaves the frame-pointer register as it pleases, so its walks end in a word that is
/// no frame record, yet always at the same frame. Hence "short of `bottom`" rather than
/// "not complete". (A thread whose first walk already stops short learns its bottom late.)
///
/// Inlined: as a call of its own it cost about 1% of `full` mode's time in the overhead
/// bench (with `first_live`'s).
#[inline(always)]
pub(crate) fn capture<'g>(
    start: usize,
    lo: usize,
    hi: usize,
    bottom: &mut usize,
    out: &mut Captured,
    guess: impl FnOnce(usize) -> Guess<'g>,
) -> bool {
    let mut fp = start;
    let mut n = 0;
    out.complete = false;
    out.len = 0;
    // Without frame pointers in this build the register may hold any stack address, and a
    // walk from it would read locals as return addresses (see `build.rs`).
    if !FRAME_TEST {
        return unwound(start, hi, out);
    }
    // A frame record the walk may start from lies above the stack pointer. Anything else came
    // from a register that holds no frame pointer (a build without them): the unwinder then
    // captures the stack, the slow way. (`first_live` goes without this test: there it cost
    // 3% of `full` mode's time in the overhead bench, and its walk stays within the thread's
    // stack bounds all the same.)
    if !valid(fp, lo, hi) || fp < stack_pointer() {
        return unwound(start, hi, out);
    }
    // SAFETY: `fp` lies within this thread's live stack, above the stack pointer,
    // word-aligned, with 16 bytes left.
    let ip0 = unsafe { *((fp + 8) as *const usize) };
    out.ips[0] = ip0;
    let g = guess(ip0);
    // Any difference from the guess, OR-ed together.
    let mut diff = ip0 ^ g.ips[0];
    // A record at `next` is readable when `fp < next <= top` and `next` is word-aligned: above
    // the last one (so at least `lo`), and 16 bytes below the stack's end.
    let top = hi - 16;
    // Each step: `ips[n]` lies in the caller of the frame at `fp`, whose frame is at `next`.
    while n < MAX_FRAMES {
        // SAFETY: as above; `fp` is re-validated before each step.
        let next = unsafe { *(fp as *const usize) };
        if next == 0 {
            out.complete = true; // the outermost frame has no caller record
            break;
        }
        if next <= fp || next > top || next % 8 != 0 {
            break;
        }
        // SAFETY: `next` was just checked to be a valid frame record address.
        let next_ra = unsafe { *((next + 8) as *const usize) };
        let rel = (hi - next) as u32;
        out.frames[n] = rel;
        out.ips[n + 1] = next_ra;
        diff |= (next_ra ^ g.ips[n + 1]) | (rel ^ g.frames[n]) as usize;
        n += 1;
        fp = next;
        if next_ra == 0 {
            out.complete = true;
            break;
        }
    }
    out.len = n;
    // `fp` is now the outermost frame reached.
    if fp >= *bottom || n == MAX_FRAMES {
        *bottom = (*bottom).max(fp);
    } else if !out.complete && crate::unwind::capture(Some(start), hi, out) {
        return false; // (without an unwinder, the walk's stack stands)
    }
    if diff == 0 && n == g.len {
        return true;
    }
    out.hash = hash(out);
    false
}

/// [`capture`] by the unwinder alone; an empty stack where there is none. Without frame
/// pointers in this build, `start` may be any caller's frame record, e.g. the standard
/// library's `main` wrapper's: the unwinder is not told it.
#[cold]
#[inline(never)]
fn unwound(start: usize, hi: usize, out: &mut Captured) -> bool {
    if !crate::unwind::capture(FRAME_TEST.then_some(start), hi, out) {
        out.ips[0] = 0;
        out.hash = hash(out);
    }
    false
}

/// One frame's step of a stack's hash: cheap, with no multiply in the loop-carried chain.
#[inline(always)]
fn hash_step(h: u64, ip: usize, rel: u32) -> u64 {
    h.rotate_left(9) ^ ip as u64 ^ (u64::from(rel) << 24)
}

/// The last step of a stack's hash: a full avalanche (murmur3's fmix64), so every bit reaches
/// the low bits the index uses. (One multiply-xorshift did not: a difference in the high bits
/// of the running hash, e.g. an early frame's return address rotated there by the later
/// steps, never reached the index bits, and in the overhead bench 38 stacks took 26 slots.)
#[inline(always)]
fn finish(h: u64, len: usize) -> u64 {
    let mut h = h ^ len as u64;
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// The hash of a captured stack, by which `sites` finds its program point.
pub(crate) fn hash(c: &Captured) -> u64 {
    let mut h = c.ips[0] as u64;
    for n in 0..c.len {
        h = hash_step(h, c.ips[n + 1], c.frames[n]);
    }
    finish(h, c.len)
}

/// The first index `i` such that frame `i` of a captured stack (`frames[i]`, saved return
/// address `ips[i + 1]`) is still live on this thread's stack, or `frames.len()` if none is.
/// Frames are nested, so every frame after it is live too.
///
/// A frame is live when the current frame-pointer chain passes through its address and the
/// return address saved there is the same: stale words left in the stack by returned calls
/// are never mistaken for frames, because only addresses on the current chain are read.
#[inline(always)]
pub(crate) fn first_live(
    start: usize,
    frames: &[u32],
    ips: &[usize],
    lo: usize,
    hi: usize,
) -> usize {
    // Without frame pointers there is no chain to follow (see `build.rs`): no frame is known
    // to be live.
    if !FRAME_TEST {
        return frames.len();
    }
    // Any frame on the current chain will do: the allocator entry's, not this function's.
    let mut cur = start;
    // Both sequences ascend: captured frames from the leaf outwards, the chain likewise.
    for (i, &rel) in frames.iter().enumerate() {
        let want = hi.wrapping_sub(rel as usize);
        while valid(cur, lo, hi) && cur < want {
            // SAFETY: `cur` is a frame record on this thread's current chain.
            let next = unsafe { *(cur as *const usize) };
            if next <= cur {
                return frames.len(); // end of the chain, or a function without a frame record
            }
            cur = next;
        }
        if !valid(cur, lo, hi) {
            return frames.len();
        }
        // SAFETY: as above.
        if cur == want && unsafe { *((cur + 8) as *const usize) } == ips[i + 1] {
            return i;
        }
    }
    frames.len()
}

/// This thread's stack bounds `(lo, hi)`, or `(0, 0)` when they cannot be read.
pub(crate) fn thread_bounds() -> (usize, usize) {
    #[cfg(target_os = "linux")]
    // SAFETY: pthread_getattr_np fills `attr`, which is destroyed after use; the out-pointers
    // are valid locals.
    unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
            return (0, 0);
        }
        let mut addr: *mut libc::c_void = std::ptr::null_mut();
        let mut size: libc::size_t = 0;
        let ok = libc::pthread_attr_getstack(&attr, &mut addr, &mut size) == 0;
        libc::pthread_attr_destroy(&mut attr);
        if ok {
            return (addr as usize, addr as usize + size);
        }
    }
    (0, 0)
}
