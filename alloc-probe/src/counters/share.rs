//! A thread's share of the live bytes, and its grant (see `peak`).
//!
//! The share is two sums that only grow, the bytes the thread allocated (`ups`) and freed
//! (`downs`), written by its owner alone, and a `limit` past which the owner must see to the
//! peak: the peak itself for the solo writer, its grant once the process is shared, [`FROZEN`]
//! while a settlement needs it to wait. Adding an event publishes the sum and then reads the
//! limit; the order is what keeps the peak exact, so each kind of event and each [`Access`]
//! has its own sequence below.

use std::sync::atomic::{compiler_fence, AtomicBool, AtomicU64, Ordering::*};

use super::counter::Access;
use super::event::{Event, Kind};

/// The limit of a frozen thread: below every share, so its next event sees to the peak.
pub(crate) const FROZEN: u64 = i64::MIN as u64;

/// One thread's share of the live bytes.
#[repr(C)]
pub(crate) struct Share {
    /// The bytes allocated and freed. Both only grow, so two readings that agree saw no
    /// change in between.
    ups: AtomicU64,
    downs: AtomicU64,
    /// The limit (as `i64`), or [`FROZEN`]. Set by the solo writer itself, or under the peak's
    /// lock.
    limit: AtomicU64,
}

/// Whether a share of `now` live bytes is past `limit` (both as `i64`).
#[inline(always)]
fn past(now: u64, limit: u64) -> bool {
    (now as i64) > (limit as i64)
}

impl Share {
    /// A new share: nothing live, and frozen, so that its first event asks for a grant.
    pub(crate) const fn new() -> Share {
        Share {
            ups: AtomicU64::new(0),
            downs: AtomicU64::new(0),
            limit: AtomicU64::new(FROZEN),
        }
    }

    /// Adds event `e`, outside an update section or inside one: returns whether the share is
    /// now past its limit. `seen` is given the live bytes an increase left, before the limit's
    /// test, so that the test's result goes straight to a branch.
    ///
    /// [`Access::Solo`]: the solo writer, whose plain store the switch to shared updates
    /// orders with a process-wide barrier before it freezes the limit (see `peak::adopt`): a
    /// store the switch did not see is followed by a read of the frozen limit. A decrease is
    /// not tested: it makes no peak, and one the switch does not see leaves the thread a grant
    /// larger than its share, which the grants' sum, at most the peak, allows.
    ///
    /// [`Access::Shared`]: a sequentially consistent store (a locked exchange) and load, so
    /// that either a thread that freezes this share sees the store, or this sees the frozen
    /// limit. Decreases are tested too: a frozen thread must not change its share unseen.
    #[inline(always)]
    pub(crate) fn add<E: Event>(&self, e: E, a: Access, seen: impl FnOnce(u64)) -> bool {
        let (up, down) = e.bytes();
        let now = match E::KIND {
            Kind::Dealloc => {
                let d = self.downs.load(Relaxed).wrapping_add(down);
                return match a {
                    Access::Solo => {
                        self.downs.store(d, Release);
                        false
                    }
                    Access::Shared => {
                        self.downs.swap(d, SeqCst);
                        past(
                            self.ups.load(Relaxed).wrapping_sub(d),
                            self.limit.load(SeqCst),
                        )
                    }
                };
            }
            Kind::Alloc => {
                let v = self.ups.load(Relaxed).wrapping_add(up);
                self.publish(v, a);
                v.wrapping_sub(self.downs.load(Relaxed))
            }
            Kind::Realloc => {
                // The old bytes freed first, then the new allocated, so that a reading between
                // the two stores sees less than either end, never both blocks.
                let d = self.downs.load(Relaxed).wrapping_add(down);
                self.downs.store(d, Release);
                let v = self.ups.load(Relaxed).wrapping_add(up);
                // Released, so also stored after `downs`.
                self.publish(v, a);
                v.wrapping_sub(d)
            }
        };
        seen(now);
        let limit = match a {
            Access::Solo => self.limit.load(Relaxed),
            Access::Shared => self.limit.load(SeqCst),
        };
        past(now, limit)
    }

    /// Stores `ups` for [`add`](Self::add): plainly (released, as every count is: see
    /// `Counter::add`), before a compiler fence that keeps the limit from being read first;
    /// or by a locked exchange.
    #[inline(always)]
    fn publish(&self, ups: u64, a: Access) {
        match a {
            Access::Solo => {
                self.ups.store(ups, Release);
                compiler_fence(SeqCst);
            }
            Access::Shared => {
                self.ups.swap(ups, SeqCst);
            }
        }
    }

    /// The bytes allocated and freed so far.
    #[inline(always)]
    pub(crate) fn sums(&self) -> (u64, u64) {
        (self.ups.load(Relaxed), self.downs.load(Relaxed))
    }

    /// The live bytes this share added: allocated minus freed.
    #[inline(always)]
    pub(crate) fn net(&self) -> u64 {
        self.ups
            .load(Relaxed)
            .wrapping_sub(self.downs.load(Relaxed))
    }

    /// The sums as a settlement reads them, every other thread frozen.
    pub(crate) fn frozen_sums(&self) -> (u64, u64) {
        let d = self.downs.load(SeqCst);
        (self.ups.load(SeqCst), d)
    }

    /// The sums, increases read first: never more live bytes than there were at one moment.
    pub(crate) fn lower_sums(&self) -> (u64, u64) {
        let u = self.ups.load(SeqCst);
        (u, self.downs.load(SeqCst))
    }

    /// Whether the share is past `grant` bytes.
    pub(crate) fn past(&self, grant: u64) -> bool {
        past(self.net(), grant)
    }

    /// Makes `v` the limit, visible to the owner's next event.
    pub(crate) fn set_limit(&self, v: u64) {
        self.limit.store(v, SeqCst);
    }

    /// Makes `v` the limit, by the solo writer itself.
    pub(crate) fn set_own_limit(&self, v: u64) {
        self.limit.store(v, Relaxed);
    }

    /// Freezes the share: its owner's next event sees to the peak. A locked exchange, so that
    /// either the owner's next store comes after it, or this freeze sees that store.
    pub(crate) fn freeze(&self) {
        self.limit.swap(FROZEN, SeqCst);
    }

    /// The limit now (for tests).
    #[cfg(test)]
    pub(crate) fn limit(&self) -> u64 {
        self.limit.load(SeqCst)
    }
}

/// A thread's grant: the live bytes it may reach without the peak's lock once the process is
/// shared, and whether the settlement under way thaws it. Written under the peak's lock only.
#[derive(Default)]
pub(crate) struct Grant {
    bytes: AtomicU64,
    thaw: AtomicBool,
}

impl Grant {
    pub(crate) const fn new() -> Grant {
        Grant {
            bytes: AtomicU64::new(0),
            thaw: AtomicBool::new(false),
        }
    }

    pub(crate) fn bytes(&self) -> u64 {
        self.bytes.load(Relaxed)
    }

    pub(crate) fn set_bytes(&self, v: u64) {
        self.bytes.store(v, Relaxed);
    }

    pub(crate) fn thaws(&self) -> bool {
        self.thaw.load(Relaxed)
    }

    pub(crate) fn set_thaw(&self, thaw: bool) {
        self.thaw.store(thaw, Relaxed);
    }
}
