//! The process's exact peak of live bytes.
//!
//! An exact peak needs one order of all increases and decreases of live bytes. A locked add on
//! one shared counter gives that order, but under two threads its cache line moves between
//! cores on every event, which costs more than the `malloc` + `free` it counts. So each
//! thread keeps its own share of the live bytes in its tally (see `share`):
//!
//! * While one thread is the solo writer (see `solo`), its share is every live byte, its
//!   limit is the peak, and passing it is a new peak: plain loads and stores.
//! * Once threads share, each holds a grant: live bytes it may reach without asking, and the
//!   grants plus an unassigned pool never sum to more than the peak. While every thread stays
//!   within its grant the total cannot pass the peak, and an event costs one locked
//!   instruction on the thread's own cache line. A thread that goes past its grant takes the
//!   lock and asks the pool for more. When the pool is short it settles: it freezes every
//!   other thread (their next event waits on the lock), reads every share until two readings
//!   agree (a consistent instant, as each share is two only-growing sums), raises the peak to
//!   the total if that is higher, and hands the difference out again: half to itself, a
//!   quarter among the other threads that count with locked instructions (which thaw with
//!   their new grants), a quarter to the pool.

use std::ptr;
use std::sync::atomic::{fence, AtomicU64, Ordering::*};

use super::counter::Access;
use super::event::Event;
use super::share::FROZEN;
use super::tally::{self, Tally, FALLBACK, SHARED, SOLO};
use crate::sys::spin::SpinLock;
use crate::sys::{barrier, clock, settings};

/// The peak, on a cache line of its own: written only at a new peak, by the solo writer or,
/// once shared, under the lock. (The solo writer compares with its own copy, its limit.)
#[repr(C, align(128))]
struct Line(AtomicU64);

static PEAK: Line = Line(AtomicU64::new(0));

/// The bytes no thread holds a grant for, behind the lock that every grant, settlement and
/// fallback count takes (shared mode only, but for the solo writer's rare changes).
#[repr(C, align(128))]
struct Pool {
    lock: SpinLock,
    bytes: AtomicU64,
}

static POOL: Pool = Pool {
    lock: SpinLock::new(),
    bytes: AtomicU64::new(0),
};

/// What changes only at a new peak, on another line: program points read the epoch on every
/// recorded event (see `tracking::points`).
#[repr(C, align(128))]
struct NewPeaks {
    /// How many times a new peak was reached.
    epoch: AtomicU64,
    /// When the latest peak was reached, in clock ticks (`full` and `sampled` modes only:
    /// reading the clock is slow in a virtual machine).
    ticks: AtomicU64,
}

static NEW_PEAKS: NewPeaks = NewPeaks {
    epoch: AtomicU64::new(0),
    ticks: AtomicU64::new(0),
};

/// A new peak was reached: program points learn it from the epoch. Locked: the solo writer
/// raises the peak without the lock, and other threads with it.
#[inline(always)]
fn new_peak() {
    NEW_PEAKS.epoch.fetch_add(1, Relaxed);
    if !settings::counts_only() {
        NEW_PEAKS.ticks.store(clock::ticks(), Relaxed);
    }
}

/// `t`'s share passed its limit, `now` live bytes, with access `a` (as the solo writer, inside
/// a section, which keeps it solo meanwhile): for the solo writer, whose limit is the peak, a
/// new peak; for the others, a grant to renew.
#[cold]
#[inline(never)]
pub(crate) fn past_limit(t: &Tally, a: Access, now: u64) {
    match a {
        Access::Solo => t.share.set_own_limit(raise_to(now)),
        Access::Shared => over_grant(t),
    }
}

/// This thread went past its grant, or was frozen: ask the pool, or settle.
#[cold]
#[inline(never)]
fn over_grant(t: &Tally) {
    lock();
    if !grant_from_pool(t) {
        settle(Some(t));
    }
    unlock();
}

/// Counts `e` on the fallback tally, of a thread without one (set-up and teardown): always
/// under the lock, the one writer then, with a settlement. Under the lock also so that a
/// reading of the totals (see [`settled`]) never sees an event the shares do not have yet.
/// The caller has made the process shared.
#[cold]
#[inline(never)]
pub(crate) fn count_fallback<E: Event>(e: E) {
    lock();
    let _ = FALLBACK.count(e, Access::Solo);
    settle(None);
    unlock();
}

/// Renews `t`'s grant to cover its share now, from the pool if need be (the caller holds the
/// lock). False if the pool is short. A thread that asks gets half of what the pool has left
/// on top of its need, so neither it nor the next asker comes back at once.
fn grant_from_pool(t: &Tally) -> bool {
    let now = t.share.net() as i64;
    let grant = t.grant.bytes() as i64;
    let pool = POOL.bytes.load(Relaxed) as i64;
    let need = now.saturating_sub(grant).max(0);
    if need > pool {
        return false;
    }
    let extra = (pool - need) / 2;
    let grant = grant + need + extra;
    t.grant.set_bytes(grant as u64);
    POOL.bytes.store((pool - need - extra) as u64, Relaxed);
    t.share.set_limit(grant as u64);
    true
}

/// Takes a consistent total of every share, raises the peak to it, and hands out what the
/// peak leaves (the caller holds the lock): half to `me` (if any), a quarter shared among the
/// other threads that count with locked instructions, a quarter kept in the pool. Each
/// thread's grant is its share in the total plus its part: a change it made after the total
/// was taken is then either within its grant (which the total and the pool account for) or
/// sends it here again.
fn settle(me: Option<&Tally>) {
    settle_around(me, read_all);
}

/// [`settle`], at an instant at which `read` (of counters that only grow, and that include
/// every share) is also taken: returns that reading.
fn settle_around<T: PartialEq>(me: Option<&Tally>, mut read: impl FnMut() -> T) -> T {
    freeze_others(me.map_or(ptr::null(), |t| t as *const Tally));
    // Each thread finishes at most the event it is in (a reallocation's two stores), so this
    // ends. They only grow, so two equal readings around the shares' reading mean that
    // nothing changed in between: at that instant, every share was what was read.
    let (reading, shares) = loop {
        let before = read();
        // Loads of the reading before, answered no later than the shares' (see
        // `totals::read`).
        fence(Acquire);
        let shares = read_all();
        if read() == before {
            break (before, shares);
        }
    };
    hand_out(me, shares);
    reading
}

/// Settles the books around a reading of the caller's (`read`, of counters that only grow,
/// and that include every share): returns a reading of one instant at which every share was
/// also read, and the books were settled at it.
///
/// A reader must not take a plain reading once threads share: a thread past its grant has
/// stored its share and waits for the lock, and a reading that includes that share fixes its
/// event before the reading, while the other threads may still grow within their grants, and
/// shrink again before the waiting thread settles; a peak that only that order reaches would
/// be missed. Settling at the instant read restores the grants that rule it out.
///
/// Most readings include no such thread: then every share is within its grant at the instant
/// read, the grants rule the hole out as they are, and no thread is disturbed. Only a reading
/// that finds a share past its grant (or none of a few tries agreeing with itself) freezes
/// every thread and settles.
pub(crate) fn settled<T: PartialEq>(mut read: impl FnMut() -> T) -> T {
    lock();
    for _ in 0..4 {
        let before = read();
        fence(Acquire);
        // Under the lock, so the grants hold still.
        let past = tally::all().any(|w| w.share.past(w.grant.bytes()));
        fence(Acquire);
        if read() == before {
            if !past {
                unlock();
                return before;
            }
            break;
        }
    }
    let reading = settle_around(None, read);
    unlock();
    reading
}

/// Freezes every tally but `mine` (the caller holds the lock): after this, a thread's next
/// event waits for the lock; one in flight is seen (the store-then-load orders on both
/// sides), or is that thread's one last change.
///
/// Only threads already counting with locked instructions are thawed by [`hand_out`]. Any
/// other (a former solo writer, or a thread not started yet) stays frozen until it takes the
/// lock itself: a former solo writer may still be in an event that began solo and stores its
/// share plainly, which a settlement's reading may miss; only its frozen limit sends that
/// event to the lock (see `Share::add`). The writer state is read after the freeze, so that a
/// `SHARED` seen here comes after the thread's every plain store.
fn freeze_others(mine: *const Tally) {
    for w in tally::all() {
        if !ptr::eq(w, mine) {
            w.share.freeze();
            w.grant.set_thaw(w.writer.state.load(Acquire) == SHARED);
        }
    }
}

/// The end of a settlement at the reading `last` of every share (see [`settle`]).
fn hand_out(me: Option<&Tally>, last: (u64, u64)) {
    let mine = me.map_or(ptr::null(), |t| t as *const Tally);
    let total = with_fallback(last);
    let mut pool = raise_to(total).wrapping_sub(total);
    if let Some(t) = me {
        pool -= give(t, pool / 2);
    }
    let others = || tally::all().filter(|w| !ptr::eq(*w, mine) && w.owned() && w.grant.thaws());
    let quarter = pool / 4;
    let mut left = quarter;
    if let Some(each) = left.checked_div(others().count() as u64) {
        // A tally claimed since the count (its writer state was shared) shares what is left.
        for w in others() {
            left -= give(w, each.min(left));
        }
    }
    pool -= quarter - left;
    POOL.bytes.store(pool, Relaxed);
}

/// Raises the peak to `live` if that is higher. Returns the peak. A locked maximum: the solo
/// writer raises it without the lock, and a settlement may at the same time with it.
fn raise_to(live: u64) -> u64 {
    let peak = PEAK.0.load(Relaxed);
    if (live as i64) <= (peak as i64) {
        return peak;
    }
    let before = PEAK.0.fetch_max(live, Relaxed);
    if before >= live {
        return before;
    }
    new_peak();
    live
}

/// The live bytes of summed shares `(ups, downs)`, plus those of the fallback tally.
fn with_fallback((ups, downs): (u64, u64)) -> u64 {
    let (fu, fd) = FALLBACK.share.sums();
    ups.wrapping_add(fu).wrapping_sub(downs.wrapping_add(fd))
}

/// Adds `extra` to `w`'s grant and makes the grant its limit. Returns `extra`.
fn give(w: &Tally, extra: u64) -> u64 {
    let grant = w.grant.bytes().wrapping_add(extra);
    w.grant.set_bytes(grant);
    w.share.set_limit(grant);
    extra
}

/// Sums every share's increases and decreases, and sets each tally's grant to its share.
fn read_all() -> (u64, u64) {
    let (mut ups, mut downs) = (0u64, 0u64);
    for w in tally::all() {
        let (u, d) = w.share.frozen_sums();
        w.grant.set_bytes(u.wrapping_sub(d));
        ups = ups.wrapping_add(u);
        downs = downs.wrapping_add(d);
    }
    (ups, downs)
}

fn lock() {
    POOL.lock.lock();
}

fn unlock() {
    POOL.lock.unlock();
}

/// `t` is the solo writer (see `solo`): its limit is the peak, and passing it is a new peak.
/// Unless the process went shared meanwhile.
pub(crate) fn become_solo(t: &Tally) {
    lock();
    if t.writer.state.load(SeqCst) == SOLO {
        t.share.set_limit(PEAK.0.load(Relaxed));
    }
    unlock();
}

/// The process just stopped having a solo writer, whose share is every live byte: that share
/// becomes its grant, and it is frozen, so that its next event renews the grant. The caller
/// has already changed the thread's writer state, fenced, and waited for its section to end.
pub(crate) fn adopt(t: &Tally) {
    lock();
    // Frozen and then fenced on every thread, under the lock (so that `become_solo` cannot
    // thaw it after): an event of the solo thread outside a section (see `Share::add`) that
    // stored its share after this fence reads the frozen limit and goes to the lock.
    t.share.set_limit(FROZEN);
    barrier::fence_all_threads();
    let (u, d) = t.share.lower_sums();
    // One that stored its share before it may not have compared it with the peak yet: as the
    // share is every live byte, the peak is raised to it here, or the grant would exceed it.
    raise_to(with_fallback((u, d)));
    t.grant.set_bytes(u.wrapping_sub(d));
    unlock();
}

/// Takes the lock before `fork`, so the child never inherits it held by a thread it lacks.
pub(crate) fn lock_for_fork() {
    lock();
}

/// Releases it after `fork`. In the child, only the thread that called `fork` is left, and
/// other threads may have been half-way through an event (one past its grant, waiting for
/// this lock): `settle` (when the process is shared) starts the child's books afresh.
pub(crate) fn unlock_after_fork(settle_books: bool) {
    if settle_books {
        settle(None);
    }
    unlock();
}

/// The peak of live bytes so far.
pub(crate) fn peak() -> u64 {
    PEAK.0.load(Relaxed)
}

/// How many times a new peak was reached.
#[inline(always)]
pub(crate) fn epoch() -> u64 {
    NEW_PEAKS.epoch.load(Relaxed)
}

/// When the latest peak was reached, in clock ticks.
pub(crate) fn ticks() -> u64 {
    NEW_PEAKS.ticks.load(Relaxed)
}

/// Every share summed: the live bytes behind the peak. At a quiet moment it equals the
/// totals' live bytes, which are summed from the event counters instead.
#[cfg(feature = "testing")]
pub(crate) fn live() -> u64 {
    with_fallback(tally::all().fold((0, 0), |(u, d), w| {
        let (wu, wd) = w.share.sums();
        (u.wrapping_add(wu), d.wrapping_add(wd))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::counters::tally::UNKNOWN;

    fn new_tally(state: u8) -> &'static Tally {
        let t: &'static Tally = Box::leak(Box::new(Tally::new()));
        t.own_new();
        t.writer.state.store(state, SeqCst);
        tally::publish(t);
        t
    }

    /// A former solo writer (writer state no longer `SOLO`, not yet `SHARED`) may be in an
    /// event that stores its share plainly and then tests only its limit: a settlement by
    /// another thread must leave that limit frozen, and thaw the threads counting with locked
    /// instructions.
    #[test]
    fn settlement_thaws_only_threads_that_count_shared() {
        let former = new_tally(UNKNOWN);
        let other = new_tally(SHARED);
        let me = new_tally(SHARED);
        lock();
        settle(Some(me));
        unlock();
        assert_eq!(former.share.limit(), FROZEN);
        assert_ne!(other.share.limit(), FROZEN);
        assert_ne!(me.share.limit(), FROZEN);
    }
}
