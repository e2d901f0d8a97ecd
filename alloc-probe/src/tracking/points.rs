//! Program points: the allocation stacks seen, each a leaf of the call tree (see `tree`),
//! and their counters.
//!
//! A point is created once per distinct stack, never freed, and looked up without a lock:
//! the allocator path finds it through its thread's caches, or else through an index by leaf
//! node. Only adding a point takes the tree's lock, and nothing here allocates through the
//! global allocator. Reports merge points that share a call site.
//!
//! Counters are weighted: in `full` mode every block weighs [`UNIT_FULL`]; in `sampled` mode a
//! sampled block weighs `1/p` in units of [`UNIT_SAMPLED`], which makes the sums unbiased
//! (Horvitz–Thompson) estimates.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::*};

use super::arena::Arena;
use super::capture::{Captured, Hash};
use super::index::Index;
use super::tree::{self, Trail};
use crate::counters::{peak, Access, Counter};
use crate::sys::{env, settings};

/// Weight of one block in `full` mode.
pub(crate) const UNIT_FULL: u64 = 1;
/// Weight of probability 1 in `sampled` mode (fixed point, 16 fractional bits).
pub(crate) const UNIT_SAMPLED: u64 = 1 << 16;

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
    /// Peak epoch of the last change.
    pub change_epoch: Counter,
}

impl PointCounters {
    /// Blocks live now: born minus freed. The two loads are not one snapshot, so under
    /// concurrency it saturates rather than wraps; at rest it is exact.
    #[inline(always)]
    pub(crate) fn live(&self) -> u64 {
        self.blocks.get().saturating_sub(self.freed.get())
    }
}

/// One allocation stack and its counters.
pub(crate) struct Point {
    /// The stack's hash, by which the allocator path finds the point (see `capture::Hash`).
    pub hash: Hash,
    /// The stack's innermost node in the call tree.
    pub leaf: u32,
    /// The innermost tracked function its blocks were allocated in (index + 1), or 0.
    pub function: AtomicU32,
    pub c: PointCounters,
    /// Its blocks that stayed inside a frame of their stack: freed on their own thread before
    /// that frame returned.
    pub stayed: Stayed,
}

impl Point {
    /// Keeps the point's live figures at the process's peak: before its first change after a
    /// new peak, its current figures are the ones it had at the peak.
    #[inline(always)]
    pub(crate) fn note_change(&self) {
        let e = peak::epoch();
        let c = &self.c;
        if c.change_epoch.get() < e {
            c.gmax_bytes.set(c.curr_bytes.get());
            c.gmax_blocks.set(c.live());
            c.change_epoch.set(e);
        }
    }
}

/// Where [`Stayed`] counts a block freed inside the tracked call it was born in.
pub(crate) const IN_CALL: u32 = u32::MAX - 1;

/// Blocks freed on their own thread while a frame of their stack still ran, by the first
/// frame still running (`k`: frame `k` of the stack, counted from the innermost), or
/// [`IN_CALL`] for those freed inside their tracked call: a list of entries, the first inside
/// the point, the rest (rare: nearly every stack frees its blocks at one depth) taken from a
/// shared table. The frame test decides at report time which of them stayed inside the site's
/// frame.
#[derive(Default)]
pub(crate) struct Stayed {
    /// `k + 1`, or 0 while the entry is free.
    key: AtomicU32,
    /// The next entry's id in [`MORE`], or 0.
    next: AtomicU32,
    /// Blocks, and of those the ones never grown and within the stack limit (weighted).
    pub all: Counter,
    pub small: Counter,
}

static MORE: Arena<Stayed> = Arena::new();

impl Stayed {
    /// Counts a block of weight `w` freed with first running frame `k`.
    #[inline(always)]
    pub(crate) fn add(&self, k: u32, w: u64, small: bool, a: Access) {
        if let Some(e) = self.entry(k.wrapping_add(1)) {
            e.all.add(w, a);
            if small {
                e.small.add(w, a);
            }
        }
    }

    /// The entry for `key`, claimed if there is none; `None` if there is no room.
    #[inline(always)]
    fn entry(&self, key: u32) -> Option<&Stayed> {
        let mut e = self;
        loop {
            match e.key.load(Acquire) {
                k if k == key => return Some(e),
                0 => match e.key.compare_exchange(0, key, AcqRel, Acquire) {
                    Ok(_) => return Some(e),
                    Err(_) => continue, // claimed meanwhile: look at it again
                },
                _ => e = e.next_entry()?,
            }
        }
    }

    #[cold]
    fn next_entry(&self) -> Option<&Stayed> {
        let mut next = self.next.load(Acquire);
        if next == 0 {
            tree::lock();
            next = self.next.load(Acquire);
            if next == 0 {
                next = MORE.add().map_or(0, |(id, _)| id);
                self.next.store(next, Release);
            }
            tree::unlock();
        }
        MORE.get(next)
    }

    /// Each entry's frame (`k`, or [`IN_CALL`]) with its counters.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (u32, &Stayed)> {
        let mut e = Some(self);
        std::iter::from_fn(move || loop {
            let cur = e?;
            e = match cur.next.load(Acquire) {
                0 => None,
                id => Some(MORE.at(id)),
            };
            let key = cur.key.load(Acquire);
            if key != 0 {
                return Some((key.wrapping_sub(1), cur));
            }
        })
    }
}

static POINTS: Arena<Point> = Arena::new();
/// Points by their stack's hash.
static BY_HASH: Index = Index::new();

/// The point with this id (ids start at 1).
#[inline(always)]
pub(crate) fn get(id: u32) -> Option<&'static Point> {
    POINTS.get(id)
}

/// How many points exist, and the memory they and the call tree hold.
pub(crate) fn footprint() -> (u64, u64) {
    let (_, tree) = tree::footprint();
    (
        u64::from(count()),
        POINTS.footprint() + BY_HASH.footprint() + MORE.footprint() + tree,
    )
}

/// How many points exist.
pub(crate) fn count() -> u32 {
    POINTS.count()
}

/// The id of the point of stack `c`, adding it (and its new call-tree nodes) if new; 0 if
/// there is no room (the most stacks kept reached, or no memory).
pub(crate) fn intern(c: &Captured, trail: &mut Trail) -> u32 {
    let same = |id: u32| POINTS.at(id).hash == c.hash;
    if let Some(id) = BY_HASH.find(c.hash.0, same) {
        return id;
    }
    if u64::from(count()) >= settings::max_stacks() {
        return 0;
    }
    let leaf = tree::leaf(&c.ips[..c.depth], &c.rels[..c.depth], c.truncated, trail);
    if leaf == 0 {
        return 0;
    }
    tree::lock();
    let id = BY_HASH
        .find(c.hash.0, same)
        .unwrap_or_else(|| add(c.hash, leaf));
    tree::unlock();
    id
}

/// Adds a point; the caller holds the tree's lock and has checked it is absent. Checks the
/// most stacks kept again, under the lock, so that threads racing past [`intern`]'s early
/// check cannot add more.
fn add(hash: Hash, leaf: u32) -> u32 {
    if u64::from(count()) >= settings::max_stacks() {
        return 0;
    }
    let Some((id, p)) = POINTS.add() else {
        return 0;
    };
    // SAFETY: a zeroed record handed out to us alone (all-zero is a valid Point: atomics and
    // integers), unpublished until indexed.
    let p = unsafe { &mut *p };
    p.hash = hash;
    p.leaf = leaf;
    p.c.min_size.set(u64::MAX);
    if BY_HASH.insert(hash.0, id, |old| POINTS.at(old).hash.0) {
        id
    } else {
        0
    }
}

/// Blocks, and their bytes (both weighted), that were counted without a site because their
/// stack found no room in the table of points.
static UNSITED: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];
static SAID: AtomicBool = AtomicBool::new(false);

/// Counts a block of `size` bytes and weight `w` that has no site for want of room, and says
/// so on stderr the first time (without allocating: this is the allocator path).
#[cold]
pub(crate) fn unsited(size: usize, w: u64) {
    UNSITED[0].fetch_add(w, Relaxed);
    UNSITED[1].fetch_add((size as u64).saturating_mul(w), Relaxed);
    if !SAID.swap(true, Relaxed) {
        env::warn(&[
            b"alloc-probe: no room for more allocation stacks (the limit of \
            ALLOC_PROBE_MAX_STACKS or Probe::with_max_stacks, or memory): blocks from new \
            stacks count in the totals, without a site; the report says how many\n",
        ]);
    }
}

/// The blocks and bytes (weighted) counted without a site for want of room.
pub(crate) fn unsited_total() -> (u64, u64) {
    (UNSITED[0].load(Relaxed), UNSITED[1].load(Relaxed))
}

/// Entries of a thread's [`Recent`]: a power of two.
const RECENT: usize = 1024;

/// The program points of stacks one thread captured lately, direct-mapped by the stack's
/// hash: `(hash, point, id)`, all zero where empty (a tracker starts zeroed). It saves the
/// shared index's probe. Points are never freed, so an entry stays valid whoever owns the
/// slot later.
pub(crate) struct Recent([(Hash, *const Point, u32); RECENT]);

impl Recent {
    /// The id and point of stack `c`: the cached ones, or [`intern`]'s (then cached). `None`
    /// if it cannot be interned.
    #[inline(always)]
    pub(crate) fn point(
        &mut self,
        c: &Captured,
        trail: &mut Trail,
    ) -> Option<(u32, &'static Point)> {
        let entry = &mut self.0[c.hash.1 as usize & (RECENT - 1)];
        if entry.0 == c.hash {
            // SAFETY: an entry with a stack's hash points to a program point, and points are
            // never freed.
            if let Some(p) = unsafe { entry.1.as_ref() } {
                return Some((entry.2, p));
            }
        }
        let id = intern(c, trail);
        let p = get(id)?;
        *entry = (c.hash, p as *const Point, id);
        Some((id, p))
    }
}
