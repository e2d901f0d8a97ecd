//! The call tree: every allocation stack is a path from a root to a node, and stacks that
//! share callers share nodes, so memory grows with distinct call paths, not with stacks times
//! depth (heaptrack's trace tree, pprof's location table). A node is a return address, where
//! its function's frame sat (for the frame test, see `capture`), and its caller's node.
//!
//! Nodes are added under a spin lock and never freed; lookups take no lock. Nothing here
//! allocates through the global allocator.

use super::arena::Arena;
use super::index::Index;
use crate::sys::spin::SpinLock;

/// The deepest stack kept: deeper ones keep the frames closest to the allocation and are
/// marked as cut, with a [`TRUNCATED`] root.
pub(crate) const MAX_FRAMES: usize = 256;

/// The return address of the root of a stack cut at the depth limit: reports show it as a
/// `(truncated)` frame, as Go's profiles do.
pub(crate) const TRUNCATED: usize = 1;

/// One frame of a stack, with the frames it was called from.
#[repr(C)]
pub(crate) struct Node {
    /// The caller's node; 0 for the outermost frame.
    pub parent: u32,
    /// Where this frame's function's frame record sat, below the thread's stack top (see
    /// `capture::Captured`); 0 where unknown (the outermost frame).
    pub rel: u32,
    /// The return address, in this frame's function.
    pub ip: usize,
}

/// Stands for "no node": matches no frame.
static NONE: Node = Node {
    parent: 0,
    rel: u32::MAX,
    ip: usize::MAX,
};

static NODES: Arena<Node> = Arena::new();
static INDEX: Index = Index::new();
static LOCK: SpinLock = SpinLock::new();

/// The node with id `id`, or one that matches nothing for 0.
#[inline(always)]
pub(crate) fn node(id: u32) -> &'static Node {
    if id == 0 {
        &NONE
    } else {
        NODES.at(id)
    }
}

/// A node's hash, every input bit mixed into the low bits the index uses.
fn hash(parent: u32, ip: usize, rel: u32) -> u64 {
    let mut h = (ip as u64) ^ (u64::from(parent) << 32 | u64::from(rel)).rotate_left(17);
    h = (h ^ (h >> 33)).wrapping_mul(0xff51_afd7_ed55_8ccd);
    h = (h ^ (h >> 33)).wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// The node for a frame, added if new; 0 if there is no room.
fn intern(parent: u32, ip: usize, rel: u32) -> u32 {
    let h = hash(parent, ip, rel);
    let same = |id: u32| {
        let n = NODES.at(id);
        n.ip == ip && n.parent == parent && n.rel == rel
    };
    if let Some(id) = INDEX.find(h, same) {
        return id;
    }
    LOCK.lock();
    let id = INDEX
        .find(h, same)
        .unwrap_or_else(|| add(h, parent, ip, rel));
    LOCK.unlock();
    id
}

/// Adds a node; the caller holds the lock and has checked it is absent.
fn add(h: u64, parent: u32, ip: usize, rel: u32) -> u32 {
    let Some((id, n)) = NODES.add() else {
        return 0;
    };
    // SAFETY: a zeroed record handed out to us alone, unpublished until indexed.
    unsafe { n.write(Node { parent, rel, ip }) };
    let rehash = |old: u32| {
        let n = NODES.at(old);
        hash(n.parent, n.ip, n.rel)
    };
    if INDEX.insert(h, id, rehash) {
        id
    } else {
        0 // unreachable from here on; the record stays unused
    }
}

/// The trail of the last stack a thread added: its frames from the root, with their nodes.
/// The thread's next new stack shares most of its callers, whose nodes are then found without
/// a lookup. Starts zeroed (an empty trail).
pub(crate) struct Trail {
    len: usize,
    /// `(ip, rel, node)` from the root; the `(truncated)` root counts as a level.
    levels: [(usize, u32, u32); MAX_FRAMES + 2],
}

/// The node of a stack's innermost frame, adding what is new; 0 if there is no room. The
/// stack is given as a walk captures it (see `capture::Captured`): return addresses `ips`
/// and frame offsets `rels` (as many), outermost first; `truncated` if it was cut at the depth limit.
/// `trail` is the thread's last trail, which this one replaces.
pub(crate) fn leaf(ips: &[usize], rels: &[u32], truncated: bool, trail: &mut Trail) -> u32 {
    // Levels from the root: the `(truncated)` root first if cut, then the outermost frame.
    let root = usize::from(truncated);
    let depth = root + ips.len();
    let level = |d: usize| -> (usize, u32) {
        if d < root {
            (TRUNCATED, 0)
        } else {
            (ips[d - root], rels[d - root])
        }
    };
    // The levels shared with the last trail keep its nodes.
    let mut d = 0;
    let mut parent = 0;
    let shared = trail.len.min(depth).min(trail.levels.len());
    while d < shared {
        let (ip, rel) = level(d);
        let (pip, prel, node) = trail.levels[d];
        if (ip, rel) != (pip, prel) {
            break;
        }
        parent = node;
        d += 1;
    }
    while d < depth {
        let (ip, rel) = level(d);
        parent = intern(parent, ip, rel);
        if parent == 0 {
            trail.len = 0;
            return 0;
        }
        if let Some(l) = trail.levels.get_mut(d) {
            *l = (ip, rel, parent);
        }
        d += 1;
    }
    trail.len = depth;
    parent
}

/// Nodes, and the bytes they and their index hold.
pub(crate) fn footprint() -> (u64, u64) {
    (
        u64::from(NODES.count()),
        NODES.footprint() + INDEX.footprint(),
    )
}

pub(crate) fn lock() {
    LOCK.lock();
}

pub(crate) fn unlock() {
    LOCK.unlock();
}
