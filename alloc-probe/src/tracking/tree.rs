//! The call tree: every allocation stack is a path from a root to a node, and stacks that
//! share callers share nodes, so memory grows with distinct call paths, not with stacks times
//! depth (heaptrack's trace tree, pprof's location table). A node is a return address, where
//! its function's frame sat (for the frame test, see `capture`), and its caller's node.
//!
//! Nodes are added under a spin lock and never freed; lookups take no lock. Nothing here
//! allocates through the global allocator.

use std::sync::atomic::{AtomicU32, Ordering::*};

use super::arena::Arena;
use super::index::Index;
use crate::sys::spin::SpinLock;

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
/// The node of the `(truncated)` root, once made.
static TRUNCATED_ROOT: AtomicU32 = AtomicU32::new(0);

/// The node with id `id`, or one that matches nothing for 0.
#[inline(always)]
pub(crate) fn node(id: u32) -> &'static Node {
    if id == 0 {
        &NONE
    } else {
        NODES.at(id)
    }
}

fn hash(parent: u32, ip: usize, rel: u32) -> u64 {
    let k = (ip as u64) ^ (u64::from(parent) << 32 | u64::from(rel)).rotate_left(17);
    let h = k.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    h ^ (h >> 29)
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

/// The node of a stack's innermost frame, adding what is new; 0 if there is no room. The
/// stack is given as a walk captures it (see `capture::Captured`): return addresses `ips`,
/// innermost first, and the frame record of each but the last (`frames`, one fewer);
/// `truncated` if it was cut at the depth limit.
pub(crate) fn leaf(ips: &[usize], frames: &[u32], truncated: bool) -> u32 {
    let mut parent = 0;
    if truncated {
        parent = TRUNCATED_ROOT.load(Relaxed);
        if parent == 0 {
            parent = intern(0, TRUNCATED, 0);
            if parent == 0 {
                return 0;
            }
            TRUNCATED_ROOT.store(parent, Relaxed);
        }
    }
    for (i, &ip) in ips.iter().enumerate().rev() {
        let rel = frames.get(i).copied().unwrap_or(0);
        parent = intern(parent, ip, rel);
        if parent == 0 {
            return 0;
        }
    }
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
