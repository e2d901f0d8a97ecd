//! Program points: interned allocation stacks, and their counters.
//!
//! A program point is one unique captured stack, including where on the stack each frame sat,
//! so that a free can tell which of the allocating frames are still running. Points are
//! created once, never freed, and looked up without a lock: a fixed, lazily-committed hash
//! index of ids over a two-level directory of points. Only inserting a new point takes a spin
//! lock, and nothing here allocates through the global allocator. Reports merge points that
//! share a call site.
//!
//! Counters are weighted: in `full` mode every block weighs [`UNIT_FULL`]; in `sampled` mode a
//! sampled block weighs `1/p` in units of [`UNIT_SAMPLED`], which makes the sums unbiased
//! (Horvitz–Thompson) estimates.

use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicU32, Ordering::*};

use super::capture::{Captured, Guess, MAX_FRAMES};
use crate::counters::{peak, Counter};
use crate::sys::pages;
use crate::sys::spin::SpinLock;

/// Weight of one block in `full` mode.
pub(crate) const UNIT_FULL: u64 = 1;
/// Weight of probability 1 in `sampled` mode (fixed point, 16 fractional bits).
pub(crate) const UNIT_SAMPLED: u64 = 1 << 16;

/// Most program points kept; past that, new stacks share the overflow point.
const MAX_POINTS: u32 = 1 << 20;
/// Positions in the hash index (twice `MAX_POINTS`, so probing stays short).
const INDEX_LEN: usize = 1 << 21;
const CHUNK: usize = 1024;

/// Counters of one program point. All weighted by block weight unless noted.
#[derive(Default)]
pub(crate) struct PointCounters {
    /// Blocks born here.
    pub blocks: Counter,
    /// Bytes allocated here, counting each realloc's new size.
    pub bytes: Counter,
    /// Reallocations of blocks born here.
    pub reallocs: Counter,
    /// Blocks that a realloc made larger (counted once per block).
    pub grown: Counter,
    /// Blocks freed.
    pub freed: Counter,
    /// Sum of freed blocks' lifetimes, in clock ticks (weighted).
    pub lifetime_ticks: Counter,
    /// Frees (including a realloc's release of the old address) that were the very next
    /// allocator event of the thread after the block's (re)allocation: heaptrack's temporaries.
    pub temporary: Counter,
    /// Blocks freed on a thread other than the one that allocated them.
    pub freed_elsewhere: Counter,
    /// Live bytes now (weighted). Live blocks are `blocks - freed` (see `PointCounters::live`).
    pub curr_bytes: Counter,
    /// The most bytes and blocks live at once (DHAT's `mb`, `mbk`).
    pub max_bytes: Counter,
    pub max_blocks: Counter,
    /// Smallest and largest block size seen (unweighted).
    pub min_size: Counter,
    pub max_size: Counter,
    /// Live bytes and blocks when the process was at its global peak.
    pub gmax_bytes: Counter,
    pub gmax_blocks: Counter,
    /// Peak epoch of the last change, and the epoch `gmax_*` belong to.
    pub change_epoch: Counter,
    pub gmax_epoch: Counter,
    /// Blocks allocated inside a tracked call.
    pub in_call: Counter,
    /// Of those: freed on the same thread while that call was still running, and of those the
    /// ones never grown and within the stack limit.
    pub freed_in_call: Counter,
    pub small_freed_in_call: Counter,
    /// The innermost tracked function its blocks were allocated in (index + 1), or 0.
    pub function: AtomicU32,
}

impl PointCounters {
    /// Blocks live now: born minus freed. The two loads are not one snapshot, so under
    /// concurrency it saturates rather than wraps; at rest it is exact.
    #[inline(always)]
    pub(crate) fn live(&self) -> u64 {
        self.blocks.get().saturating_sub(self.freed.get())
    }
}

/// One interned stack and its counters.
pub(crate) struct Point {
    pub hash: u64,
    pub len: u32,
    pub ips: [usize; MAX_FRAMES + 1],
    pub frames: [u32; MAX_FRAMES],
    pub c: PointCounters,
    /// For blocks freed on their own thread outside any tracked call: `live_from[k]` counts
    /// those whose first still-running allocating frame was frame `k` (`len` if none).
    pub live_from: [Counter; MAX_FRAMES + 1],
    /// The same, for blocks never grown and no larger than the stack limit.
    pub small_live_from: [Counter; MAX_FRAMES + 1],
}

impl Point {
    #[inline]
    pub(crate) fn ips(&self) -> &[usize] {
        &self.ips[..self.len as usize]
    }

    #[inline]
    pub(crate) fn frames(&self) -> &[u32] {
        &self.frames[..self.len as usize]
    }

    /// Keeps the point's live figures at the process's peak: before its first change after a
    /// new peak, its current figures are the ones it had at the peak.
    #[inline(always)]
    pub(crate) fn note_change(&self) {
        let e = peak::epoch();
        let c = &self.c;
        if c.change_epoch.get() < e {
            c.gmax_bytes.set(c.curr_bytes.get());
            c.gmax_blocks.set(c.live());
            c.gmax_epoch.set(e);
            c.change_epoch.set(e);
        }
    }

    fn matches(&self, hash: u64, c: &Captured) -> bool {
        self.hash == hash
            && self.len as usize == c.len
            && self.ips[..=c.len] == c.ips[..=c.len]
            && self.frames[..c.len] == c.frames[..c.len]
    }
}

struct Table {
    index: AtomicPtr<AtomicU32>,
    dir: [AtomicPtr<Point>; (MAX_POINTS as usize) / CHUNK],
    count: AtomicU32,
    lock: SpinLock,
}

#[allow(clippy::declare_interior_mutable_const)]
const NULL_CHUNK: AtomicPtr<Point> = AtomicPtr::new(ptr::null_mut());

static TABLE: Table = Table {
    index: AtomicPtr::new(ptr::null_mut()),
    dir: [NULL_CHUNK; (MAX_POINTS as usize) / CHUNK],
    count: AtomicU32::new(0),
    lock: SpinLock::new(),
};

fn hash(c: &Captured) -> u64 {
    c.hash
}

/// The point with this id (ids start at 1).
#[inline]
pub(crate) fn get(id: u32) -> Option<&'static Point> {
    let i = id.checked_sub(1)? as usize;
    let chunk = TABLE.dir.get(i / CHUNK)?.load(Acquire);
    if chunk.is_null() {
        return None;
    }
    // SAFETY: a published chunk holds CHUNK points, and point `i` was fully written before its
    // id was published (ids are handed out only after the write).
    Some(unsafe { &*chunk.add(i % CHUNK) })
}

/// How many points exist and the memory they hold (index plus touched chunks).
pub(crate) fn footprint() -> (u64, u64) {
    let n = u64::from(count());
    let chunks = n.div_ceil(CHUNK as u64);
    let index = if TABLE.index.load(Relaxed).is_null() {
        0
    } else {
        // The index is mapped lazily: count the pages a table this full touches at most.
        (INDEX_LEN as u64 * 4).min(n * 4096)
    };
    (
        n,
        chunks * (CHUNK * std::mem::size_of::<Point>()) as u64 + index,
    )
}

/// How many points exist.
pub(crate) fn count() -> u32 {
    TABLE.count.load(Acquire)
}

/// Entries of a thread's [`Recent`]: a power of two.
const RECENT: usize = 64;

/// The program points of stacks one thread captured lately, direct-mapped by the stack's
/// hash: `(hash, point, id)`, all zero where empty (a tracker starts zeroed). A hit is still
/// compared with the stack in full; it saves the shared index's probe and the lookup by id.
/// Points are never freed, so an entry stays valid whoever owns the slot later.
pub(crate) struct Recent([(u64, *const Point, u32); RECENT]);

impl Recent {
    /// The id and point of stack `c`: the cached ones, or [`intern`]'s (then cached). `None`
    /// if it cannot be interned.
    #[inline(always)]
    pub(crate) fn point(&mut self, c: &Captured) -> Option<(u32, &'static Point)> {
        let entry = &mut self.0[c.hash as usize & (RECENT - 1)];
        // SAFETY: a non-null entry points to a program point, and points are never freed.
        if let Some(p) = unsafe { entry.1.as_ref() } {
            if entry.0 == c.hash && p.matches(c.hash, c) {
                return Some((entry.2, p));
            }
        }
        let id = intern(c);
        let p = get(id)?;
        *entry = (c.hash, p as *const Point, id);
        Some((id, p))
    }
}

/// Entries of a thread's [`Guesses`]: a power of two.
const GUESSES: usize = 64;

/// The program point a thread's stack walk will likely find, by where the walk starts: the
/// return address in the allocator entry's frame (the line that called the allocator) and
/// that frame's depth in the stack. Direct-mapped, all zero where empty (a tracker starts
/// zeroed). The walk checks its guess frame by frame (`capture::capture`), so a wrong guess
/// costs nothing but the comparison; a right one saves hashing the stack and comparing it
/// with [`Recent`]'s point afterwards.
pub(crate) struct Guesses([(*const Point, u32); GUESSES]);

impl Guesses {
    #[inline(always)]
    fn index(ip0: usize, depth: u32) -> usize {
        let k = (ip0 as u64) ^ (u64::from(depth) << 32);
        (k.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - GUESSES.trailing_zeros())) as usize
    }

    /// The stack to expect from a walk whose first return address is `ip0`, starting
    /// `depth` bytes below the stack's top, with its point and id.
    #[inline(always)]
    pub(crate) fn guess(
        &self,
        ip0: usize,
        depth: u32,
    ) -> (Guess<'static>, Option<(u32, &'static Point)>) {
        let (p, id) = self.0[Self::index(ip0, depth)];
        // SAFETY: a non-null entry points to a program point, and points are never freed.
        match unsafe { p.as_ref() } {
            Some(p) => (
                Guess {
                    len: p.len as usize,
                    ips: &p.ips,
                    frames: &p.frames,
                },
                Some((id, p)),
            ),
            None => (Guess::none(), None),
        }
    }

    /// Remembers that the walk from `ip0` at `depth` found point `id`.
    #[inline(always)]
    pub(crate) fn learn(&mut self, ip0: usize, depth: u32, id: u32, p: &'static Point) {
        self.0[Self::index(ip0, depth)] = (p as *const Point, id);
    }
}

/// The id of the point for this stack, interning it if new; 0 if out of memory.
pub(crate) fn intern(c: &Captured) -> u32 {
    let h = hash(c);
    let mut index = TABLE.index.load(Acquire);
    if index.is_null() {
        index = init_index();
        if index.is_null() {
            return 0;
        }
    }
    if let Some(id) = find(index, h, c) {
        return id;
    }
    lock();
    let id = find(index, h, c).unwrap_or_else(|| insert(index, h, c));
    unlock();
    id
}

#[cold]
fn init_index() -> *mut AtomicU32 {
    lock();
    let mut index = TABLE.index.load(Acquire);
    if index.is_null() {
        index = pages::map_zeroed(INDEX_LEN * 4).cast();
        TABLE.index.store(index, Release);
    }
    unlock();
    index
}

fn find(index: *mut AtomicU32, h: u64, c: &Captured) -> Option<u32> {
    let mut pos = h as usize & (INDEX_LEN - 1);
    loop {
        // SAFETY: `pos` < INDEX_LEN, the mapping's length in AtomicU32s.
        let id = unsafe { &*index.add(pos) }.load(Acquire);
        if id == 0 {
            return None;
        }
        if get(id).is_some_and(|p| p.matches(h, c)) {
            return Some(id);
        }
        pos = (pos + 1) & (INDEX_LEN - 1);
    }
}

/// Inserts a new point; the caller holds the lock and has checked it is absent.
fn insert(index: *mut AtomicU32, h: u64, c: &Captured) -> u32 {
    let n = TABLE.count.load(Relaxed);
    if n >= MAX_POINTS - 1 {
        return overflow_point(index);
    }
    let chunk_no = n as usize / CHUNK;
    let mut chunk = TABLE.dir[chunk_no].load(Acquire);
    if chunk.is_null() {
        chunk = pages::map_zeroed(CHUNK * std::mem::size_of::<Point>()).cast();
        if chunk.is_null() {
            return 0;
        }
        TABLE.dir[chunk_no].store(chunk, Release);
    }
    // SAFETY: the chunk is zeroed memory for CHUNK points (all-zero is a valid Point: atomics
    // and integers); point `n` is unused and unpublished, and we hold the insert lock.
    let p = unsafe { &mut *chunk.add(n as usize % CHUNK) };
    p.hash = h;
    p.len = c.len as u32;
    p.ips[..=c.len].copy_from_slice(&c.ips[..=c.len]);
    p.frames[..c.len].copy_from_slice(&c.frames[..c.len]);
    p.c.min_size.set(u64::MAX);
    let id = n + 1;
    TABLE.count.store(id, Release);
    let mut pos = h as usize & (INDEX_LEN - 1);
    loop {
        // SAFETY: `pos` < INDEX_LEN.
        let s = unsafe { &*index.add(pos) };
        if s.load(Relaxed) == 0 {
            s.store(id, Release);
            return id;
        }
        pos = (pos + 1) & (INDEX_LEN - 1);
    }
}

/// Past `MAX_POINTS` distinct stacks, every new one shares one empty-stack point.
#[cold]
fn overflow_point(index: *mut AtomicU32) -> u32 {
    let empty = Captured::new();
    let h = hash(&empty);
    find(index, h, &empty).unwrap_or(0)
}

pub(crate) fn lock() {
    TABLE.lock.lock();
}

pub(crate) fn unlock() {
    TABLE.lock.unlock();
}
