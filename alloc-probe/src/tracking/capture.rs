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

/// Records a stack holds at most: [`MAX_FRAMES`] frames and the allocator entry's.
const LEVELS: usize = MAX_FRAMES + 1;

/// A captured stack, as the frame records a walk read, outermost first.
///
/// Record `r` sits at `addr[r]`, in the frame of a function that function `G_r` called. It
/// holds the address of `G_r`'s own record (`addr[r - 1]`; for the outermost, `outer`) and
/// the return address into `G_r` (`ips[r]`). `rels[r]` is `G_r`'s record as an offset below the
/// thread's stack top (for the frame test: `G_r` still runs while that record still holds
/// `ips[r - 1]`); 0 for the outermost record, whose `G` has no record known. The innermost
/// record is the allocator entry's own, so `ips[depth - 1]` lies in the function that
/// allocated.
///
/// A walk keeps what it read for the next one on the thread, which reads only as much of the
/// stack afresh as differs (see [`capture`]).
pub(crate) struct Captured {
    /// Records held.
    pub depth: usize,
    pub ips: [usize; LEVELS],
    pub rels: [u32; LEVELS],
    addr: [usize; LEVELS],
    /// The outermost record's first word, where a frame walk read it.
    outer: usize,
    /// The hash's state after each record, outermost first.
    states: [Hash; LEVELS],
    /// Whether the walk reached the outermost frame (rather than a depth limit or a function
    /// without frame pointers).
    pub complete: bool,
    /// Whether the walk stopped at [`MAX_FRAMES`] with frames left.
    pub truncated: bool,
    /// A 128-bit hash of the records' return addresses and offsets, `depth` and `truncated`
    /// (see [`Hash`](struct@Hash)): what identifies the stack's program point on the allocator path.
    pub hash: Hash,
    /// The stack top of the thread whose frame walk this was, if it can guide the next one;
    /// 0 if it cannot (the unwinder's stack, a cut one, or none).
    guide: usize,
    /// Whether the outermost record's first word was read (a walk that ends at a null return
    /// address does not read it).
    outer_read: bool,
    /// The records of a walk's new part, innermost first: address, first word, return address
    /// (the unwinder's: 0, the caller's record or `hi` where unknown, return address).
    fresh: [(usize, usize, usize); LEVELS],
}

/// Whether `fp` can be read as a frame record inside `[lo, hi)`.
#[inline(always)]
fn valid(fp: usize, lo: usize, hi: usize) -> bool {
    fp >= lo && fp.is_multiple_of(std::mem::align_of::<usize>()) && fp.saturating_add(16) <= hi
}

/// Captures the stack from the frame record at `start` outwards: the innermost record is the
/// one at `start`. The allocator path passes its entry function's frame, so the walk does
/// not step through alloc-probe's own frames (reports drop them by symbol anyway).
/// `lo..hi` are this thread's stack bounds; `bottom` is the outermost frame address this
/// thread's walks have reached (0 at first), which a walk that stops sooner falls back from.
///
/// `out` holds the thread's last stack. The walk first finds how many of that stack's records,
/// from the outermost in, still hold every word they held (see [`unchanged`]: their
/// addresses are known, so those loads do not wait on each other). Then it walks from `start`
/// outwards until it comes to one of them: from there out the stack is the last one (each
/// record's first word is the next record's address), with the same hash so far, and only
/// the records inside it are hashed and stored. A walk that comes to none reads on to the
/// end, as if it had not looked.
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
    // Without frame pointers in this build the register may hold any stack address, and a
    // walk from it would read locals as return addresses (see `build.rs`).
    if !FRAME_POINTERS {
        return unwound(start, lo, hi, out, rules);
    }
    // A frame record the walk may start from lies above the stack pointer. Anything else came
    // from a register that holds no frame pointer (a build without them): the unwinder then
    // captures the stack, the slow way. (`first_live` goes without this test, which it would
    // pay on every free: its walk stays within the thread's stack bounds all the same.)
    if !valid(start, lo, hi) || start < stack_pointer() {
        return unwound(start, lo, hi, out, rules);
    }
    // A record at `next` is readable when `fp < next <= top` and `next` is word-aligned: above
    // the last one (so at least `lo`), and 16 bytes below the stack's end.
    let top = hi - 16;
    // The last stack's records `0..q`, outermost first, hold what they held.
    let q = if out.guide == hi {
        unchanged(out, start)
    } else {
        0
    };
    out.guide = 0;
    // `out.addr[p - 1]` is the innermost of those records not below `fp` (both stacks'
    // addresses ascend outwards).
    let mut p = q;
    let mut fp = start;
    // SAFETY: `fp` lies within this thread's live stack, above the stack pointer,
    // word-aligned, with 16 bytes left.
    let mut ip = unsafe { *((fp + 8) as *const usize) };
    let mut m = 0;
    let (mut complete, mut read) = (false, true);
    // The last stack's record where the walk joined it, if it did.
    let joined = loop {
        while p > 0 && out.addr[p - 1] < fp {
            p -= 1;
        }
        if p > 0 && out.addr[p - 1] == fp && p + m < LEVELS {
            break Some(p - 1);
        }
        out.fresh[m] = (fp, 0, ip);
        m += 1;
        if m == LEVELS {
            break None;
        }
        // SAFETY: `fp` was validated as a frame record address.
        let next = unsafe { *(fp as *const usize) };
        out.fresh[m - 1].1 = next;
        if next == 0 {
            complete = true; // the outermost frame has no caller record
            break None;
        }
        if next <= fp || next > top || next % 8 != 0 {
            break None;
        }
        fp = next;
        // SAFETY: `next` was just checked to be a valid frame record address.
        ip = unsafe { *((fp + 8) as *const usize) };
        if ip == 0 {
            out.fresh[m] = (fp, 0, 0);
            m += 1;
            (complete, read) = (true, false);
            break None;
        }
    };
    let (kept, truncated) = match joined {
        // From there out the stack is the last one, which was not cut.
        Some(j) => {
            (fp, complete, read) = (out.addr[0], out.complete, out.outer_read);
            (j + 1, false)
        }
        // SAFETY: `fp` is the last frame record validated.
        None => (
            0,
            m == LEVELS && !complete && unsafe { *(fp as *const usize) } != 0,
        ),
    };
    // `fp` is now the outermost frame reached.
    if fp >= *bottom || m == LEVELS {
        *bottom = (*bottom).max(fp);
    } else if !complete && unwound_from(Some(start), lo, hi, out, rules) {
        return; // (without an unwinder, the walk's stack stands)
    }
    out.depth = kept;
    settle(out, m, hi, complete, truncated);
    out.outer_read = read;
    if !truncated {
        out.guide = hi;
    }
}

/// How many of the last stack's records, from the outermost in, hold what they held: every
/// word it read of them is the same now. Each record's first word is the next one's
/// address, so the loads need not wait for each other. Records below `start` are not on the
/// current stack, and not read.
#[inline(always)]
fn unchanged(out: &Captured, start: usize) -> usize {
    let mut q = 0;
    while q < out.depth {
        let a = out.addr[q];
        if a < start {
            break;
        }
        // SAFETY: `a` was validated as a record address by a walk of this thread's stack
        // (the guide's stack top is this thread's), and lies between the current frame
        // `start` and the stack top: live, mapped stack.
        let (w0, w1) = unsafe { (*(a as *const usize), *((a + 8) as *const usize)) };
        let saved = if q == 0 { out.outer } else { out.addr[q - 1] };
        if w1 != out.ips[q] || ((q > 0 || out.outer_read) && w0 != saved) {
            break;
        }
        q += 1;
    }
    q
}

/// Puts the walk's `m` new records (`fresh`, innermost first) inside the `depth` records
/// `out` keeps, and hashes them.
#[inline(always)]
fn settle(out: &mut Captured, m: usize, hi: usize, complete: bool, truncated: bool) {
    let kept = out.depth;
    let depth = kept + m;
    let mut h = if kept == 0 {
        Hash::SEED
    } else {
        out.states[kept - 1]
    };
    for r in kept..depth {
        let (a, saved, ip) = out.fresh[depth - 1 - r];
        out.addr[r] = a;
        out.ips[r] = ip;
        let rel = if r == 0 {
            out.outer = saved;
            0
        } else {
            hi.wrapping_sub(saved) as u32
        };
        out.rels[r] = rel;
        h = h.step(ip, rel);
        out.states[r] = h;
    }
    out.depth = depth;
    out.complete = complete;
    out.truncated = truncated;
    out.hash = h.finish(depth, truncated);
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
        replace(out, 0, hi, false, false);
    }
}

/// Makes the walk's `m` new records (`fresh`) the whole stack, none kept from the last one,
/// which cannot guide the next walk; no records at all stand as one unknown frame (return
/// address 0), so that every thread's empty stack is one stack.
fn replace(out: &mut Captured, mut m: usize, hi: usize, complete: bool, truncated: bool) {
    if m == 0 {
        out.fresh[0] = (0, hi, 0);
        m = 1;
    }
    out.guide = 0;
    out.depth = 0;
    settle(out, m, hi, complete, truncated);
}

/// A stack's 128-bit hash: two lanes, each a multiply-xor chain over the records from the
/// outermost in (so that a stack that shares its outer part with the last one starts from
/// that part's state), each finished with a full avalanche. The allocator path takes two
/// stacks with the same hash for the same stack without comparing their frames: two of a
/// million distinct stacks share a hash with odds near 2^-88, against the frame-by-frame
/// comparison's cost of a cache miss per frame.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub(crate) struct Hash(pub u64, pub u64);

impl Hash {
    /// The state before any record.
    const SEED: Hash = Hash(0x243F_6A88_85A3_08D3, 0x1319_8A2E_0370_7344);

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
    // Two passes (this is the rare, slow path): the first finds out whether `start` is a
    // frame record on the chain.
    let mut truncated = false;
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
        if n >= LEVELS {
            truncated = true;
            return false;
        }
        if ip == 0 {
            return false;
        }
        out.fresh[n] = (0, hi, ip);
        if n > 0 {
            // The frame walk's convention is that a record's offset is where the frame record
            // of the function running its return address sits, below the stack top; that
            // record holds the next return address out. That is the frame-pointer
            // register's value in that frame. A function without a frame record holds
            // something else there, which is not on the frame-pointer chain, so `first_live`
            // never takes it for a live frame; nor an unknown one (0), the stack's top.
            // (As `settle` takes it, an offset of `hi - saved`.)
            out.fresh[n - 1].1 = if record == 0 || record > hi {
                hi // 0: the same for every thread, so that one stack stays one
            } else {
                record
            };
        }
        record = fp;
        kept += 1;
        true
    });
    let Some(complete) = walked else {
        return false;
    };
    replace(out, kept, hi, complete && !truncated, truncated);
    true
}
