//! The process's live bytes and their exact peak.
//!
//! An exact peak needs one order of all increases and decreases of live bytes. A locked add on
//! one shared counter gives that order, but under two threads its cache line moves between
//! cores on every event, which costs more than the `malloc` + `free` it counts. So each
//! thread keeps its own *share* of the live bytes in its counter slot:
//!
//! * While one thread is the lone writer (see `sections`), its share is every live byte, and
//!   it compares it with the peak with plain loads and stores.
//! * Once threads share, each holds a *grant*: live bytes it may reach without asking, and
//!   the grants plus an unassigned *pool* never sum to more than the peak (escrow). While every
//!   thread stays within its grant the total cannot pass the peak, and an event costs one
//!   locked instruction on the thread's own cache line: the store of its share, which orders
//!   it before the read of its limit. A thread that goes past its grant takes the lock and
//!   asks the pool for more. When the pool is short it *settles*: it freezes every other
//!   thread (their next event waits on the lock), reads every share until two readings agree
//!   (a consistent instant, as each share is two only-growing sums), raises the peak to the
//!   total if that is higher, and hands the difference out again: half to itself, a quarter
//!   among the other threads on the locked path (which thaw with their new grants), a quarter
//!   to the pool.
//!
//! In the overhead bench with two threads, 0.35% of events take the lock, and about 40% of
//! those settle (with 16 threads on 2 cores, 0.37%). A build that never took it (wrong, for
//! measurement only) ran 3% faster with two threads.

use std::ptr;
use std::sync::atomic::{compiler_fence, AtomicBool, AtomicU64, Ordering::*};

use crate::spin::SpinLock;
use crate::tally::{Head, Slot};

/// The peak, on a cache line of its own: written only at a new peak, by the lone writer or,
/// once shared, under the lock. (The lone writer compares with its own copy, its `limit`.)
#[repr(C, align(128))]
struct Line(AtomicU64);

static PEAK: Line = Line(AtomicU64::new(0));

/// The lease book, behind its lock (shared mode only).
#[repr(C, align(128))]
struct Escrow {
    lock: SpinLock,
    /// Live bytes the peak allows that no thread holds a grant for.
    pool: AtomicU64,
    /// The share of threads without a counter slot (set-up and teardown), changed only
    /// under the lock, by each event's net change: the fallback byte counters in `tally`
    /// cannot serve, as a realloc adds to them in two steps.
    ups: AtomicU64,
    downs: AtomicU64,
}

static ESCROW: Escrow = Escrow {
    lock: SpinLock::new(),
    pool: AtomicU64::new(0),
    ups: AtomicU64::new(0),
    downs: AtomicU64::new(0),
};

/// The limit of a frozen thread: below every share, so its next event takes the lock.
const FROZEN: u64 = i64::MIN as u64;

/// One thread's share of the live bytes, in its counter slot. The sums are written by the
/// owner only; `limit` by the lone writer, or once shared, under the lock.
#[repr(C)]
pub(crate) struct Share {
    /// The bytes this thread allocated and freed (a reallocation frees its old size and
    /// allocates its new one, DHAT's convention). Both only grow, so two readings that agree
    /// saw no change in between.
    ups: AtomicU64,
    downs: AtomicU64,
    /// The grant (as `i64`), or [`FROZEN`]: an event that leaves `ups - downs` above it takes
    /// the lock.
    limit: AtomicU64,
}

impl Share {
    /// A new slot's share: nothing live and frozen, so its first event asks for a grant.
    pub(crate) const fn new() -> Share {
        Share {
            ups: AtomicU64::new(0),
            downs: AtomicU64::new(0),
            limit: AtomicU64::new(FROZEN),
        }
    }

    /// The bytes allocated and freed so far.
    #[inline(always)]
    pub(crate) fn sums(&self) -> (u64, u64) {
        (self.ups.load(Relaxed), self.downs.load(Relaxed))
    }

    #[inline(always)]
    pub(crate) fn net(&self) -> u64 {
        self.ups
            .load(Relaxed)
            .wrapping_sub(self.downs.load(Relaxed))
    }
}

/// What changes only at a new peak, on another line: program points read the epoch on every
/// tracked event (see `blocks::note_change`).
#[repr(C, align(128))]
struct PeakMark {
    /// How many times a new peak was reached.
    epoch: AtomicU64,
    /// When the latest peak was reached, in clock ticks (tracking modes only: reading the
    /// clock is slow in a virtual machine).
    ticks: AtomicU64,
}

static MARK: PeakMark = PeakMark {
    epoch: AtomicU64::new(0),
    ticks: AtomicU64::new(0),
};

/// A new peak was reached: program points learn it from the epoch. Locked: the lone writer
/// raises the peak without the lock, and `observe` (from another thread) with it.
#[inline(always)]
fn new_peak() {
    MARK.epoch.fetch_add(1, Relaxed);
    if !crate::config::counts_only() {
        MARK.ticks.store(crate::clock::ticks(), Relaxed);
    }
}

/// This thread's live bytes grew by `n`, inside a section (the general path); raises the
/// slot's own mark (see `tally::open_window`).
#[inline(always)]
pub(crate) fn grow(s: &Slot, solo: bool, n: u64) {
    // Inside a section the switch waits for its end: a path it changed meanwhile only sends
    // the event to `past_limit`, which is still the lone writer's to run.
    let mark = |now| s.raise_mark(now);
    let past = if solo {
        lone_grow_with(s, n, mark)
    } else {
        locked_grow_with(s, n, mark)
    };
    if past {
        past_limit(s, solo, s.share.net());
    }
}

/// The lone writer's live bytes grew by `n`, outside a section (an event on its own slot
/// only: see `tally::quick_alloc`). Returns whether the caller must call [`over_limit`] (out
/// of line, after its own counting). No peak mark: a thread with a window open takes the
/// general path (see `tally::open_window`), which raises it after this; inside a section,
/// [`grow`] raises it through the `_with` form, which gives the share to `mark` before the
/// limit's test, so that the test's result goes straight to a branch.
///
/// Without a section, the switch to shared updates (see `sections`) may come at any
/// instruction of this. The switch freezes the limit and then fences every thread (see
/// [`adopt_lone_writer`]): a share stored before that fence, the switch reads (and raises the
/// peak to); a limit read after it is frozen, so the event goes to the lock. Nothing thaws
/// the limit before this thread has taken the lock itself: settlements only thaw threads
/// already on the locked path (see [`settle`]). So the limit is the only test needed, and a
/// new peak is not missed. Passing the limit, the thread takes a section after all.
#[inline(always)]
pub(crate) fn lone_grow(s: &Head, n: u64) -> bool {
    lone_grow_with(s, n, |_| ())
}

#[inline(always)]
fn lone_grow_with(s: &Head, n: u64, mark: impl FnOnce(u64)) -> bool {
    let sh = &s.share;
    let v = sh.ups.load(Relaxed).wrapping_add(n);
    sh.ups.store(v, Relaxed);
    // Keeps the compiler from reading the limit before storing the share.
    compiler_fence(SeqCst);
    let now = v.wrapping_sub(sh.downs.load(Relaxed));
    mark(now);
    (now as i64) > (sh.limit.load(Relaxed) as i64)
}

/// The lone writer's block of `old` bytes became one of `new` (a reallocation), outside a
/// section (as [`lone_grow`]): the old bytes freed first, then the new allocated, so that a
/// reading between the two stores sees less than either end, never more (DHAT's convention
/// counts no moment with both blocks). Returns what [`lone_grow`] returns.
#[inline(always)]
pub(crate) fn lone_resize(s: &Head, old: u64, new: u64) -> bool {
    lone_resize_with(s, old, new, |_| ())
}

#[inline(always)]
fn lone_resize_with(s: &Head, old: u64, new: u64, mark: impl FnOnce(u64)) -> bool {
    let sh = &s.share;
    let d = sh.downs.load(Relaxed).wrapping_add(old);
    sh.downs.store(d, Relaxed);
    let v = sh.ups.load(Relaxed).wrapping_add(new);
    // Released: stored after `downs`.
    sh.ups.store(v, Release);
    compiler_fence(SeqCst);
    let now = v.wrapping_sub(d);
    mark(now);
    (now as i64) > (sh.limit.load(Relaxed) as i64)
}

/// [`lone_resize`] for a locked thread, as [`locked_grow`]: the exchange that stores the
/// new bytes also publishes the freed ones before it.
#[inline(always)]
pub(crate) fn locked_resize(s: &Head, old: u64, new: u64) -> bool {
    locked_resize_with(s, old, new, |_| ())
}

#[inline(always)]
fn locked_resize_with(s: &Head, old: u64, new: u64, mark: impl FnOnce(u64)) -> bool {
    let sh = &s.share;
    let d = sh.downs.load(Relaxed).wrapping_add(old);
    sh.downs.store(d, Relaxed);
    let v = sh.ups.load(Relaxed).wrapping_add(new);
    sh.ups.swap(v, SeqCst);
    let now = v.wrapping_sub(d);
    mark(now);
    (now as i64) > (sh.limit.load(SeqCst) as i64)
}

/// A reallocation from `old` to `new` bytes, inside a section (the general path); raises the
/// slot's own mark, as [`grow`].
#[inline(always)]
pub(crate) fn resize(s: &Slot, solo: bool, old: u64, new: u64) {
    let mark = |now| s.raise_mark(now);
    let past = if solo {
        lone_resize_with(s, old, new, mark)
    } else {
        locked_resize_with(s, old, new, mark)
    };
    if past {
        past_limit(s, solo, s.share.net());
    }
}

/// A locked thread's live bytes grew by `n`, outside a section: as [`grow`] unlocked, but
/// leaves the renewal of its grant to the caller, as [`lone_grow`].
#[inline(always)]
pub(crate) fn locked_grow(s: &Head, n: u64) -> bool {
    locked_grow_with(s, n, |_| ())
}

#[inline(always)]
fn locked_grow_with(s: &Head, n: u64, mark: impl FnOnce(u64)) -> bool {
    let sh = &s.share;
    let v = sh.ups.load(Relaxed).wrapping_add(n);
    // A sequentially consistent store (a locked exchange) and load: either a thread that
    // freezes us sees this store, or we see its frozen limit.
    sh.ups.swap(v, SeqCst);
    let now = v.wrapping_sub(sh.downs.load(Relaxed));
    mark(now);
    (now as i64) > (sh.limit.load(SeqCst) as i64)
}

/// [`lone_grow`], [`locked_grow`], [`lone_resize`], [`locked_resize`] or [`locked_shrink`]
/// left the share past the limit (which the switch to shared updates freezes): a new peak if
/// the thread is still the lone writer, which a section makes sure of; otherwise the share is
/// settled under the lock, as any.
#[cold]
#[inline(never)]
pub(crate) fn over_limit(s: &Slot) {
    pause_for_tests();
    let solo = crate::sections::begin(Some(s));
    past_limit(s, solo, s.share.net());
    crate::sections::end(Some(s), solo);
}

/// The lone writer's live bytes shrank by `n`, outside a section (as [`lone_grow`]). No
/// check: a decrease makes no peak, and one the switch does not see leaves the thread a
/// grant larger than its share, which the grants' sum, at most the peak, allows.
#[inline(always)]
pub(crate) fn lone_shrink(s: &Head, n: u64) {
    let sh = &s.share;
    sh.downs
        .store(sh.downs.load(Relaxed).wrapping_add(n), Relaxed);
}

/// Nanoseconds [`over_limit`] pauses for (tests only: `pause_lone_peak`),
/// and whether one has: so a test can switch the process to shared updates while a lone
/// event has stored its share and not yet raised the peak, a window otherwise a few
/// instructions wide.
pub(crate) static TEST_PAUSE: AtomicU64 = AtomicU64::new(0);
pub(crate) static TEST_PAUSED: AtomicBool = AtomicBool::new(false);

#[inline(always)]
fn pause_for_tests() {
    let ns = TEST_PAUSE.load(Relaxed);
    if ns != 0 {
        TEST_PAUSE.store(0, Relaxed);
        TEST_PAUSED.store(true, SeqCst);
        let ts = libc::timespec {
            tv_sec: (ns / 1_000_000_000) as libc::time_t,
            tv_nsec: (ns % 1_000_000_000) as libc::c_long,
        };
        // SAFETY: a valid timespec, and a null remainder pointer, which nanosleep allows.
        unsafe { libc::nanosleep(&ts, ptr::null_mut()) };
    }
}

/// A locked thread's live bytes shrank by `n`, outside a section: as [`shrink`] unlocked, but
/// returns whether the caller must call [`over_limit`] (the thread is frozen).
#[inline(always)]
pub(crate) fn locked_shrink(s: &Head, n: u64) -> bool {
    let sh = &s.share;
    let v = sh.downs.load(Relaxed).wrapping_add(n);
    sh.downs.swap(v, SeqCst);
    (sh.ups.load(Relaxed).wrapping_sub(v) as i64) > (sh.limit.load(SeqCst) as i64)
}

/// This thread's live bytes shrank by `n`, inside a section.
#[inline(always)]
pub(crate) fn shrink(s: &Slot, solo: bool, n: u64) {
    if solo {
        lone_shrink(s, n);
    } else if locked_shrink(s, n) {
        // Checked too: a frozen thread must not change its share unseen.
        past_limit(s, false, 0);
    }
}

/// The share passed the limit: for the lone writer, whose limit is the peak, a new peak; for
/// the others, a grant to renew.
#[cold]
#[inline(never)]
fn past_limit(s: &Slot, solo: bool, now: u64) {
    if solo {
        s.share.limit.store(raise_to(now), Relaxed);
    } else {
        over_grant(s);
    }
}

/// This thread went past its grant, or was frozen: ask the pool, or settle.
#[cold]
#[inline(never)]
fn over_grant(s: &Slot) {
    lock();
    if !lease(s) {
        settle(Some(s));
    }
    unlock();
}

/// An event of a thread without a slot (set-up and teardown): always under the lock, with a
/// settlement. `count` adds it to the shared fallback counters, under the lock too: a reading
/// of the totals (see [`settled`]) must not see an event the shares do not have yet.
#[cold]
#[inline(never)]
pub(crate) fn without_slot(up: u64, down: u64, count: impl FnOnce()) {
    crate::sections::ensure_shared();
    lock();
    count();
    let e = &ESCROW;
    e.ups.store(e.ups.load(Relaxed).wrapping_add(up), Relaxed);
    e.downs
        .store(e.downs.load(Relaxed).wrapping_add(down), Relaxed);
    settle(None);
    unlock();
}

/// Renews `s`'s grant to cover its share now, from the pool if need be (the caller holds the
/// lock). False if the pool is short. A thread that asks gets half of what the pool has left
/// on top of its need, so neither it nor the next asker comes back at once.
fn lease(s: &Slot) -> bool {
    let now = s.share.net() as i64;
    let grant = s.grant.load(Relaxed) as i64;
    let pool = ESCROW.pool.load(Relaxed) as i64;
    let need = now.saturating_sub(grant).max(0);
    if need > pool {
        return false;
    }
    let extra = (pool - need) / 2;
    let grant = grant + need + extra;
    s.grant.store(grant as u64, Relaxed);
    ESCROW.pool.store((pool - need - extra) as u64, Relaxed);
    s.share.limit.store(grant as u64, SeqCst);
    true
}

/// Takes a consistent total of every share, raises the peak to it, and hands out what the
/// peak leaves (the caller holds the lock): half to `me` (if any), a quarter shared among the
/// other threads on the locked path, a quarter kept in the pool. Each thread's grant is its
/// share in the total plus its part: a change it made after the total was taken is then
/// either within its grant (which the total and the pool account for) or sends it here again.
fn settle(me: Option<&Slot>) {
    settle_around(me, read_all);
}

/// [`settle`], at an instant at which `read` (of counters that only grow, and that include
/// every share) is also taken: returns that reading.
fn settle_around<T: PartialEq>(me: Option<&Slot>, mut read: impl FnMut() -> T) -> T {
    freeze_others(me.map_or(ptr::null(), |s| s as *const Slot));
    // Each thread finishes at most the event it is in (a reallocation's two stores), so this
    // ends. They only grow, so two equal readings around the shares' reading mean that
    // nothing changed in between: at that instant, every share was what was read.
    let (reading, shares) = loop {
        let before = read();
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
        // Under the lock, so the grants hold still.
        let past =
            crate::tally::slots().any(|w| (w.share.net() as i64) > (w.grant.load(Relaxed) as i64));
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

/// Freezes every slot but `mine` (the caller holds the lock): after this, a thread's next
/// event waits for the lock; one in flight is seen (the store-then-load orders on both
/// sides), or is that thread's one last change.
///
/// Only threads already on the locked path are thawed by [`hand_out`]. Any other (a former
/// lone writer, or a thread not started yet) stays frozen until it takes the lock itself: a
/// former lone writer may still be in an event that began lone and stores its share plainly,
/// which a settlement's reading may miss; only its frozen limit sends that event to the lock
/// (see `lone_grow`). The path is read before the share, so that a `LOCKED` seen here comes
/// after the thread's every plain store.
fn freeze_others(mine: *const Slot) {
    for w in crate::tally::slots() {
        if !ptr::eq(w, mine) {
            w.share.limit.swap(FROZEN, SeqCst);
            let locked = w.path.load(Acquire) == crate::sections::LOCKED;
            w.thaw.store(locked, Relaxed);
        }
    }
}

/// The end of a settlement at the reading `last` of every share (see [`settle`]).
fn hand_out(me: Option<&Slot>, last: (u64, u64)) {
    let mine = me.map_or(ptr::null(), |s| s as *const Slot);
    let total = with_no_slot(last);
    let mut pool = raise_to(total).wrapping_sub(total);
    if let Some(s) = me {
        pool -= give(s, pool / 2);
    }
    let others = || {
        crate::tally::slots()
            .filter(|w| !ptr::eq(*w, mine) && w.in_use.load(Relaxed) && w.thaw.load(Relaxed))
    };
    let quarter = pool / 4;
    let mut budget = quarter;
    if let Some(each) = budget.checked_div(others().count() as u64) {
        // A slot reused since the count (its path was locked) shares what is left.
        for w in others() {
            budget -= give(w, each.min(budget));
        }
    }
    pool -= quarter - budget;
    ESCROW.pool.store(pool, Relaxed);
}

/// Raises the peak to `live` if that is higher. Returns the peak. A locked maximum: the lone
/// writer raises it without the lock, and `observe` may at the same time with it.
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

/// The live bytes of summed shares `(ups, downs)`, plus those of threads without a slot.
fn with_no_slot((ups, downs): (u64, u64)) -> u64 {
    let e = &ESCROW;
    ups.wrapping_add(e.ups.load(Relaxed))
        .wrapping_sub(downs.wrapping_add(e.downs.load(Relaxed)))
}

/// Adds `extra` to `w`'s grant and makes the grant its limit. Returns `extra`.
fn give(w: &Slot, extra: u64) -> u64 {
    let grant = w.grant.load(Relaxed).wrapping_add(extra);
    w.grant.store(grant, Relaxed);
    w.share.limit.store(grant, SeqCst);
    extra
}

/// Sums every slot's increases and decreases, and sets each slot's grant to its share.
fn read_all() -> (u64, u64) {
    let (mut ups, mut downs) = (0u64, 0u64);
    for w in crate::tally::slots() {
        let d = w.share.downs.load(SeqCst);
        let u = w.share.ups.load(SeqCst);
        w.grant.store(u.wrapping_sub(d), Relaxed);
        ups = ups.wrapping_add(u);
        downs = downs.wrapping_add(d);
    }
    (ups, downs)
}

fn lock() {
    ESCROW.lock.lock();
}

fn unlock() {
    ESCROW.lock.unlock();
}

/// `s` is the lone writer (see `sections`): its limit is the peak, and passing it is a new
/// peak. Unless the process went shared meanwhile.
pub(crate) fn become_lone_writer(s: &Slot) {
    lock();
    if s.path.load(SeqCst) == crate::sections::LONE {
        s.share.limit.store(PEAK.0.load(Relaxed), SeqCst);
    }
    unlock();
}

/// The process just stopped having a lone writer, whose share is every live byte: that share
/// becomes its grant, and it is frozen, so that its next event renews the grant. The caller
/// has already changed the thread's path, fenced, and waited for its section to end.
pub(crate) fn adopt_lone_writer(s: &Slot) {
    lock();
    // Frozen and then fenced on every thread, under the lock (so that `become_lone_writer`
    // cannot thaw it after): an event of the lone thread outside a section (see `lone_grow`)
    // that stored its share after this fence reads the frozen limit and goes to the lock.
    s.share.limit.store(FROZEN, SeqCst);
    crate::sections::fence_all_threads();
    let (u, d) = (s.share.ups.load(SeqCst), s.share.downs.load(SeqCst));
    // One that stored its share before it may not have compared it with the peak yet: as the
    // share is every live byte (read increases first, so never more than were live at once),
    // the peak is raised to it here, or the grant would exceed the peak.
    raise_to(with_no_slot((u, d)));
    s.grant.store(u.wrapping_sub(d), Relaxed);
    unlock();
}

/// Takes the lock before `fork`, so the child never inherits it held by a thread it lacks.
pub(crate) fn lock_for_fork() {
    lock();
}

/// Releases it after `fork`. In the child, only the thread that called `fork` is left, and
/// other threads may have been half-way through an event (one past its grant, waiting for
/// this lock): a settlement starts the child's books afresh.
pub(crate) fn unlock_after_fork(child: bool) {
    if child && crate::sections::shared() {
        settle(None);
    }
    unlock();
}

/// A consistent reading of every thread's counters found `live` bytes live (see
/// `tally::totals`): a thread half-way through an event may have counted it before the
/// peak did. The peak must not be lower than what was reported live.
pub(crate) fn observe(live: u64) {
    if (live as i64) > (peak() as i64) {
        lock();
        raise_to(live);
        unlock();
    }
}

/// The peak of live bytes so far.
pub(crate) fn peak() -> u64 {
    PEAK.0.load(Relaxed)
}

/// How many times a new peak was reached.
#[inline(always)]
pub(crate) fn peak_epoch() -> u64 {
    MARK.epoch.load(Relaxed)
}

/// When the latest peak was reached, in clock ticks.
pub(crate) fn peak_ticks() -> u64 {
    MARK.ticks.load(Relaxed)
}

/// Every share summed: the live bytes, for tests that check it against the per-thread
/// tallies (at a quiet moment the two agree).
pub(crate) fn counter() -> u64 {
    with_no_slot(crate::tally::slots().fold((0, 0), |(u, d), w| {
        let (wu, wd) = w.share.sums();
        (u.wrapping_add(wu), d.wrapping_add(wd))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sections::{LOCKED, UNKNOWN};

    /// A former lone writer (path no longer `LONE`, not yet `LOCKED`) may be in an event that
    /// stores its share plainly and then tests only its limit: a settlement by another
    /// thread must leave that limit frozen, and thaw the threads on the locked path.
    #[test]
    fn settlement_thaws_only_threads_on_the_locked_path() {
        let former = crate::tally::new_test_slot();
        let other = crate::tally::new_test_slot();
        let me = crate::tally::new_test_slot();
        former.path.store(UNKNOWN, SeqCst);
        other.path.store(LOCKED, SeqCst);
        me.path.store(LOCKED, SeqCst);
        lock();
        settle(Some(me));
        unlock();
        assert_eq!(former.share.limit.load(SeqCst), FROZEN);
        assert_ne!(other.share.limit.load(SeqCst), FROZEN);
        assert_ne!(me.share.limit.load(SeqCst), FROZEN);
    }
}
