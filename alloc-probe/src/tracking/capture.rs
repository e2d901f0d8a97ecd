//! Stack capture, by walking frame pointers, and the frame test.
//!
//! Each frame's saved frame pointer sits at `[fp]` and its return address at `[fp + 8]`. The
//! walk reads only inside this thread's stack bounds, with each step strictly towards the
//! stack's base, so a function built without frame pointers ends the walk early instead of
//! faulting. A walk that ends short of the outermost frame this thread's walks have reached
//! is done again by the DWARF unwinder. Symbols are resolved later, only for unique stacks,
//! when a report is made.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use super::tree::{self, MAX_FRAMES};
use crate::sys::env;
use crate::sys::stack::{stack_pointer, FRAME_POINTERS};
use crate::sys::unwind::{self, Rules};

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
    /// Whether the walk stopped at [`MAX_FRAMES`] with frames left.
    pub truncated: bool,
    /// A 128-bit hash of `len`, `ips`, `frames` and `truncated` (see [`Hash`]): what
    /// identifies the stack's program point on the allocator path.
    pub hash: Hash,
}

/// Whether `fp` can be read as a frame record inside `[lo, hi)`.
#[inline(always)]
fn valid(fp: usize, lo: usize, hi: usize) -> bool {
    fp >= lo && fp.is_multiple_of(std::mem::align_of::<usize>()) && fp.saturating_add(16) <= hi
}

/// Captures the stack from the frame record at `start` outwards: `ips[0]` is the return
/// address saved there. The allocator path passes its entry function's frame, so the walk does
/// not step through alloc-probe's own frames (reports drop them by symbol anyway).
/// `lo..hi` are this thread's stack bounds; `bottom` is the outermost frame address this
/// thread's walks have reached (0 at first), which a walk that stops sooner falls back from.
///
/// The hash is computed as the walk goes, which costs no time it would wait for anyway: each
/// step waits for the load of the next frame's address, longer than a hash step takes.
///
/// The outermost frame is not always marked: the main thread's `main` is called by C code
/// that leaves the frame-pointer register as it pleases, so its walks end in a word that is
/// no frame record, yet always at the same frame. Hence "short of `bottom`" rather than
/// "not complete". (A thread whose first walk already stops short learns its bottom late.)
///
/// Inlined into the allocator path, as is `first_live`.
#[inline(always)]
pub(crate) fn capture(
    start: usize,
    lo: usize,
    hi: usize,
    bottom: &mut usize,
    out: &mut Captured,
    rules: &mut Rules,
) {
    let mut fp = start;
    let mut n = 0;
    out.complete = false;
    out.truncated = false;
    out.len = 0;
    // Without frame pointers in this build the register may hold any stack address, and a
    // walk from it would read locals as return addresses (see `build.rs`).
    if !FRAME_POINTERS {
        return unwound(start, lo, hi, out, rules);
    }
    // A frame record the walk may start from lies above the stack pointer. Anything else came
    // from a register that holds no frame pointer (a build without them): the unwinder then
    // captures the stack, the slow way. (`first_live` goes without this test, which it would
    // pay on every free: its walk stays within the thread's stack bounds all the same.)
    if !valid(fp, lo, hi) || fp < stack_pointer() {
        return unwound(start, lo, hi, out, rules);
    }
    // SAFETY: `fp` lies within this thread's live stack, above the stack pointer,
    // word-aligned, with 16 bytes left.
    let ip0 = unsafe { *((fp + 8) as *const usize) };
    out.ips[0] = ip0;
    let mut h = Hash::start(ip0);
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
        h = h.step(next_ra, rel);
        n += 1;
        fp = next;
        if next_ra == 0 {
            out.complete = true;
            break;
        }
    }
    out.len = n;
    // SAFETY: `fp` is the last frame record validated in the loop.
    out.truncated = n == MAX_FRAMES && !out.complete && unsafe { *(fp as *const usize) } != 0;
    // `fp` is now the outermost frame reached.
    if fp >= *bottom || n == MAX_FRAMES {
        *bottom = (*bottom).max(fp);
    } else if !out.complete && unwound_from(Some(start), lo, hi, out, rules) {
        return; // (without an unwinder, the walk's stack stands)
    }
    out.hash = h.finish(n, out.truncated);
}

/// The stack the unwinder may use: it is not called with less left below the stack pointer.
const UNWIND_HEADROOM: usize = 32 << 10;

/// Whether a build without frame pointers said so on stderr.
static HINTED: AtomicBool = AtomicBool::new(false);

/// [`capture`] by the unwinder alone; an empty stack where there is none. Without frame
/// pointers in this build, `start` may be any caller's frame record, e.g. the standard
/// library's `main` wrapper's: the unwinder is not told it.
#[cold]
#[inline(never)]
fn unwound(start: usize, lo: usize, hi: usize, out: &mut Captured, rules: &mut Rules) {
    // (Windows x64 has no frame-pointer chain to build with: nothing to suggest there.)
    if !FRAME_POINTERS && !cfg!(windows) && !HINTED.swap(true, Relaxed) {
        env::warn(&[
            b"alloc-probe: built without frame pointers, so every stack comes from the DWARF \
              unwinder (a few times slower) and the frame test is off; for the fast path \
              build with RUSTFLAGS=\"-C force-frame-pointers=yes\" (see the README)\n",
        ]);
    }
    if !unwound_from(FRAME_POINTERS.then_some(start), lo, hi, out, rules) {
        out.ips[0] = 0;
        out.hash = hash(out);
    }
}

/// A stack's 128-bit hash: two lanes, each a multiply-xor chain over the frames (a step
/// takes less time than the walk's wait for the next frame), each finished with a full
/// avalanche. The allocator path takes two stacks with the same hash for the same stack
/// without comparing their frames: two of a million distinct stacks share a hash with odds
/// near 2^-88, against the frame-by-frame comparison's cost of a cache miss per frame.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub(crate) struct Hash(pub u64, pub u64);

impl Hash {
    #[inline(always)]
    fn start(ip0: usize) -> Hash {
        Hash(
            ip0 as u64 ^ 0x243F_6A88_85A3_08D3,
            (ip0 as u64).rotate_left(32),
        )
    }

    #[inline(always)]
    fn step(self, ip: usize, rel: u32) -> Hash {
        let (ip, rel) = (ip as u64, u64::from(rel));
        Hash(
            (self.0 ^ ip).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ rel,
            (self.1.rotate_left(27) ^ ip ^ (rel << 32)).wrapping_mul(0xC2B2_AE3D_27D4_EB4F),
        )
    }

    #[inline(always)]
    fn finish(self, len: usize, truncated: bool) -> Hash {
        let len = len as u64 | u64::from(truncated) << 63;
        Hash(fmix(self.0 ^ len), fmix(self.1 ^ len.rotate_left(17)))
    }
}

/// murmur3's fmix64: every input bit reaches every output bit, the low bits the index uses
/// included.
#[inline(always)]
fn fmix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// The hash of a captured stack, as [`capture`] computes it.
pub(crate) fn hash(c: &Captured) -> Hash {
    let mut h = Hash::start(c.ips[0]);
    for n in 0..c.len {
        h = h.step(c.ips[n + 1], c.frames[n]);
    }
    h.finish(c.len, c.truncated)
}

/// The first index `k` such that frame `k` of the stack ending at call-tree node `leaf` is
/// still live on this thread's stack, or `None` if none is. Frame `k` is the frame record
/// of the function at the stack's `k`-th return address (its node's `rel`), which holds the
/// caller's return address (the parent node's `ip`). Frames are nested, so every frame after
/// it is live too.
///
/// A frame is live when the current frame-pointer chain passes through its address and the
/// return address saved there is the same: stale words left in the stack by returned calls
/// are never mistaken for frames, because only addresses on the current chain are read.
#[inline(always)]
pub(crate) fn first_live(start: usize, leaf: u32, lo: usize, hi: usize) -> Option<u32> {
    // Without frame pointers there is no chain to follow (see `build.rs`): no frame is known
    // to be live.
    if !FRAME_POINTERS {
        return None;
    }
    // Any frame on the current chain will do: the allocator entry's, not this function's.
    let mut cur = start;
    let mut node = tree::node(leaf);
    // Both sequences ascend: the stack's frames from the leaf outwards, the chain likewise.
    let mut k = 0;
    while node.parent != 0 {
        let caller = tree::node(node.parent);
        if caller.ip == tree::TRUNCATED {
            return None; // the outermost kept frame: its record is unknown
        }
        let want = hi.wrapping_sub(node.rel as usize);
        while valid(cur, lo, hi) && cur < want {
            // SAFETY: `cur` is a frame record on this thread's current chain.
            let next = unsafe { *(cur as *const usize) };
            if next <= cur {
                return None; // end of the chain, or a function without a frame record
            }
            cur = next;
        }
        if !valid(cur, lo, hi) {
            return None;
        }
        // SAFETY: as above.
        if cur == want && unsafe { *((cur + 8) as *const usize) } == caller.ip {
            return Some(k);
        }
        node = caller;
        k += 1;
    }
    None
}

/// Which frames at the top of the unwound stack, alloc-probe's own, [`unwound_from`] leaves
/// out.
#[derive(Clone, Copy)]
enum Skip {
    /// Those below the frame record at this address, the allocator entry's that the frame
    /// walk starts from, so that `ips[0]` is, as in a frame walk, the return address saved
    /// in it.
    Below(usize),
    /// This many: the unwinder's `walk`, `unwound_from` and its caller, alloc-probe's own
    /// (reports drop any more of ours by symbol). For a start that is not a frame record on
    /// the unwound chain (a function built without frame pointers holds something else in the
    /// frame-pointer register), which would otherwise leave out the whole stack, or the
    /// caller's part of it; and where the caller gives no start (a build without frame
    /// pointers).
    Count(usize),
}

/// Captures the calling stack with the DWARF unwinder into `out`, in the frame walk's format
/// (see [`Captured`]), hash included. `start` is the frame record the frame walk started
/// from, if the caller can vouch that it is one of this stack's (`None` in a build without
/// frame pointers, where it may be any caller's: skipping below it could drop the program's
/// own frames). Returns false where there is no unwinder.
#[inline(never)]
fn unwound_from(
    start: Option<usize>,
    lo: usize,
    hi: usize,
    out: &mut Captured,
    rules: &mut Rules,
) -> bool {
    // The unwinder keeps several KiB of state on the stack: on a thread about to run out
    // (a 16 KiB thread dropping a deep tree, as regex-syntax's tests do), the walk's stack
    // stands, or none, rather than the program overflowing its stack.
    if stack_pointer().saturating_sub(lo) < UNWIND_HEADROOM {
        return false;
    }
    out.len = 0;
    out.complete = false;
    // Two passes (this is the rare, slow path): the first finds out whether `start` is a
    // frame record on the chain.
    out.truncated = false;
    let mut skip = Skip::Count(3);
    if let Some(start) = start {
        let mut found = false;
        let known = unwind::walk_with(rules, lo, hi, |_, cfa, fp| {
            // The frame whose record `start` is, or, past it, none is.
            found = fp == start;
            !found && cfa <= start
        });
        if known.is_none() {
            return false;
        }
        if found {
            skip = Skip::Below(start);
        }
    }
    let (mut seen, mut kept, mut record) = (0usize, 0usize, 0usize);
    let walked = unwind::walk_with(rules, lo, hi, |ip, cfa, fp| {
        seen += 1;
        let ours = match skip {
            // Up to the frame whose record is `start`, whose callee's CFA lies below it; its
            // caller's lies above.
            Skip::Below(start) => cfa <= start,
            Skip::Count(n) => seen <= n,
        };
        if ours {
            return true;
        }
        let n = kept;
        if n > MAX_FRAMES {
            out.truncated = true;
            return false;
        }
        if ip == 0 {
            return false;
        }
        out.ips[n] = ip;
        if n > 0 {
            // The frame walk's convention is that `frames[n - 1]` is where the frame record
            // of the function running `ips[n - 1]` sits, as an offset below the stack top;
            // the record holds the return address `ips[n]`. That is the frame-pointer
            // register's value in that frame. A function without a frame record holds
            // something else there, which is not on the frame-pointer chain, so `first_live`
            // never takes it for a live frame; nor an unknown one (0), the stack's top.
            out.frames[n - 1] = if record == 0 {
                0 // the same for every thread, so that one stack stays one
            } else {
                hi.saturating_sub(record) as u32
            };
        }
        record = fp;
        kept += 1;
        true
    });
    let Some(complete) = walked else {
        return false;
    };
    out.len = kept.saturating_sub(1);
    out.complete = complete && !out.truncated;
    out.hash = if kept == 0 {
        Hash::default()
    } else {
        hash(out)
    };
    true
}
