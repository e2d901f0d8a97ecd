//! Tracked calls at run time: what `#[track_allocs]` expansions open around a function body
//! (through `__private`), and the budgets they check when the call ends.
//!
//! A tracked call pushes a frame on its thread's stack of calls (see `tracking::calls`) and
//! opens a scope (see `thread`), which keeps the thread's high-water of live bytes; closing it
//! adds the call's figures to its function's counts on the thread.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::sys::{clock, guard};
use crate::thread::{self, Scope, Slot};
use crate::tracking::calls::{Call, BUDGET_POINTS, MAX_DEPTH};
use crate::tracking::functions::{self, Figures, FnInfo};

/// One call in this many is timed. Reading the clock costs more than the rest of a tracked
/// call in a virtual machine; timing a regular sample of the calls keeps the mean time per
/// call at a fraction of the cost.
const TIME_EVERY: u32 = 64;

/// What a closed call measured, callees included.
#[derive(Default)]
struct Finished {
    allocs: u64,
    reallocs: u64,
    bytes: u64,
    /// Only filled in for budgeted calls.
    points: [u32; BUDGET_POINTS],
    npoints: u32,
}

impl Finished {
    /// Adds an async call's poll.
    fn add(&mut self, o: &Finished) {
        self.allocs += o.allocs;
        self.reallocs += o.reallocs;
        self.bytes += o.bytes;
        for &p in &o.points[..(o.npoints as usize).min(BUDGET_POINTS)] {
            let n = self.npoints as usize;
            if n < BUDGET_POINTS {
                self.points[n] = p;
            }
            self.npoints = self.npoints.saturating_add(1);
        }
    }
}

/// What [`push`] did.
enum Pushed {
    /// A frame with this invocation number.
    Frame(u64),
    /// Past the depth limit: counted as a call, no frame; [`pop`] still undoes it.
    Overflow,
    /// Not tracked at all (more functions than the registry holds).
    No,
}

/// Opens a tracked call of `info` on this thread, whose slot is `slot`: pushes its frame and
/// opens its scope, whose closing the frame keeps. `invocation` continues an earlier one (an
/// async call's later poll); `count_call` says whether this is a new call. Every push is
/// undone by one [`pop`], which the caller's guard makes.
fn push(
    slot: &'static Slot,
    info: &'static FnInfo,
    invocation: Option<u64>,
    count_call: bool,
) -> Pushed {
    // SAFETY: called from user code, not from inside the allocator; nothing here allocates.
    let calls = &mut unsafe { slot.tracker() }.calls;
    let Some(index) = calls.index_of(info) else {
        return Pushed::No;
    };
    if calls.depth == MAX_DEPTH {
        calls.overflow += 1;
        if count_call {
            let (counts, a) = functions::counts_of(slot.fns(), index);
            counts.add_call(a);
        }
        return Pushed::Overflow;
    }
    let invocation = invocation.unwrap_or_else(|| calls.next_invocation());
    let (allocs, reallocs, bytes) = slot.tally().allocated();
    let net = slot.tally().share.net();
    let budgeted = info.budgeted();
    calls.timing = calls.timing.wrapping_add(1);
    let timed = calls.timing % TIME_EVERY == 0;
    // Field by field: the frame's `points` array is only used by budgeted calls.
    let f: &mut Call = &mut calls.frames[calls.depth];
    f.index = index;
    f.invocation = invocation;
    f.start_allocs = allocs;
    f.start_reallocs = reallocs;
    f.start_bytes = bytes;
    f.child_allocs = 0;
    f.child_reallocs = 0;
    f.child_bytes = 0;
    f.start_net = net;
    f.count_call = count_call;
    f.budgeted = budgeted;
    f.npoints = 0;
    f.start_ticks = if timed { clock::ticks().max(1) } else { 0 };
    f.saved_high_water = Scope::open(slot).into_saved();
    calls.depth += 1;
    if budgeted {
        calls.budgeted += 1;
    }
    Pushed::Frame(invocation)
}

/// Closes the innermost tracked call [`push`] opened on this thread, and adds its figures to
/// its function's counts.
fn pop(slot: &'static Slot) -> Finished {
    // SAFETY: as in `push`.
    let calls = &mut unsafe { slot.tracker() }.calls;
    if calls.overflow > 0 {
        calls.overflow -= 1;
        return Finished::default();
    }
    if calls.depth == 0 {
        return Finished::default();
    }
    calls.depth -= 1;
    let depth = calls.depth;
    let f = &calls.frames[depth];
    let (allocs, reallocs, bytes) = slot.tally().allocated();
    let incl_allocs = allocs.wrapping_sub(f.start_allocs);
    let incl_reallocs = reallocs.wrapping_sub(f.start_reallocs);
    let incl_bytes = bytes.wrapping_sub(f.start_bytes);
    let (index, count_call, start_ticks, start_net) =
        (f.index, f.count_call, f.start_ticks, f.start_net);
    let mut done = Finished {
        allocs: incl_allocs,
        reallocs: incl_reallocs,
        bytes: incl_bytes,
        ..Finished::default()
    };
    if f.budgeted {
        done.points = f.points;
        done.npoints = f.npoints;
        calls.budgeted -= 1;
    }
    // Closes the call's scope, which gives an enclosing one (`measure`, an outer call) its
    // high-water back.
    let scope = Scope::resume(slot, f.saved_high_water);
    let high = scope.high_water();
    drop(scope);
    let (counts, a) = functions::counts_of(slot.fns(), index);
    if incl_allocs | incl_reallocs | incl_bytes | start_ticks == 0 {
        // The common case on hot paths: a call that allocated nothing and was not timed.
        if count_call {
            counts.add_call(a);
        }
        return done;
    }
    let f = &calls.frames[depth];
    let (child_allocs, child_reallocs, child_bytes) =
        (f.child_allocs, f.child_reallocs, f.child_bytes);
    if depth > 0 {
        let parent = &mut calls.frames[depth - 1];
        parent.child_allocs += incl_allocs;
        parent.child_reallocs += incl_reallocs;
        parent.child_bytes += incl_bytes;
    }
    let max_live = high.wrapping_sub(start_net);
    let figures = Figures {
        calls: u64::from(count_call),
        allocs: incl_allocs - child_allocs.min(incl_allocs),
        reallocs: incl_reallocs - child_reallocs.min(incl_reallocs),
        bytes: incl_bytes - child_bytes.min(incl_bytes),
        incl_allocs,
        incl_reallocs,
        incl_bytes,
        ticks: if start_ticks == 0 {
            0
        } else {
            clock::ticks().wrapping_sub(start_ticks)
        },
        timed: u64::from(start_ticks != 0),
        max_live: if (max_live as i64) < 0 { 0 } else { max_live },
        ..Figures::default()
    };
    counts.add(&figures, a);
    done
}

/// Ends a tracked call when dropped, also during unwinding.
pub struct ScopeGuard {
    info: &'static FnInfo,
    /// The slot a frame was pushed on, if one was.
    slot: Option<&'static Slot>,
}

/// Opens a tracked call of `info` on this thread.
#[inline]
pub fn enter(info: &'static FnInfo) -> ScopeGuard {
    let slot = thread::slot().filter(|s| !matches!(push(s, info, None, true), Pushed::No));
    ScopeGuard { info, slot }
}

impl Drop for ScopeGuard {
    #[inline]
    fn drop(&mut self) {
        let Some(slot) = self.slot else { return };
        let done = pop(slot);
        if self.info.budgeted() {
            check_budget(self.info, &done);
        }
    }
}

/// Panics, after the call, when it went over its budget (unless unwinding already).
fn check_budget(info: &'static FnInfo, done: &Finished) {
    if !info.enforce || std::thread::panicking() {
        return;
    }
    let events = done.allocs + done.reallocs;
    let over_allocs = info.max_allocs.filter(|&m| events > m);
    let over_bytes = info.max_bytes.filter(|&m| done.bytes > m);
    if over_allocs.is_none() && over_bytes.is_none() {
        return;
    }
    let msg = {
        let _ignore = guard::Ignore::new();
        budget_message(info, done, over_allocs, over_bytes)
    };
    panic!("{msg}");
}

#[cold]
fn budget_message(
    info: &'static FnInfo,
    done: &Finished,
    over_allocs: Option<u64>,
    over_bytes: Option<u64>,
) -> String {
    use std::fmt::Write;
    let events = done.allocs + done.reallocs;
    let mut m = format!(
        "alloc-probe: `{}` ({}:{}) went over its budget:",
        info.name, info.file, info.line
    );
    if let Some(max) = over_allocs {
        let _ = write!(
            m,
            " {events} allocations in one call (max_allocs = {max}; {} allocs + {} reallocs, callees included)",
            done.allocs, done.reallocs
        );
    }
    if let Some(max) = over_bytes {
        if over_allocs.is_some() {
            m.push(';');
        }
        let _ = write!(m, " {} bytes in one call (max_bytes = {max})", done.bytes);
    }
    let sites =
        crate::report::sites_of_points(&done.points[..(done.npoints as usize).min(BUDGET_POINTS)]);
    if sites.is_empty() {
        m.push_str("\n  (allocation sites are recorded in the full and sampled modes)");
    } else {
        m.push_str("\n  allocations in that call:");
        for s in &sites {
            let _ = write!(m, "\n    {s}");
        }
        if done.npoints as usize > BUDGET_POINTS {
            let _ = write!(
                m,
                "\n    ... and {} more",
                done.npoints as usize - BUDGET_POINTS
            );
        }
    }
    m
}

/// A future whose every poll runs inside the tracked call of `info`.
pub struct Instrumented<F> {
    info: &'static FnInfo,
    /// The invocation of the first poll, which every later poll continues on whichever thread
    /// polls it, so that blocks freed across an `.await` match it.
    invocation: Option<u64>,
    started: bool,
    totals: Finished,
    fut: F,
}

/// Wraps an `async fn` body.
pub fn instrument<F: Future>(info: &'static FnInfo, fut: F) -> Instrumented<F> {
    Instrumented {
        info,
        invocation: None,
        started: false,
        totals: Finished::default(),
        fut,
    }
}

impl<F: Future> Future for Instrumented<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `fut` is structurally pinned: it is never moved out of `self`, and the other
        // fields are never pinned.
        let this = unsafe { self.get_unchecked_mut() };
        let mut pushed = None;
        if let Some(slot) = thread::slot() {
            match push(slot, this.info, this.invocation, !this.started) {
                Pushed::Frame(inv) => {
                    this.invocation = Some(inv);
                    pushed = Some(slot);
                }
                Pushed::Overflow => pushed = Some(slot),
                Pushed::No => {}
            }
            this.started = true;
        }
        // SAFETY: see above.
        let fut = unsafe { Pin::new_unchecked(&mut this.fut) };
        // Pops even if the poll panics.
        struct PopOnDrop<'a>(Option<&'static Slot>, &'a mut Finished);
        impl Drop for PopOnDrop<'_> {
            fn drop(&mut self) {
                if let Some(slot) = self.0 {
                    self.1.add(&pop(slot));
                }
            }
        }
        let popper = PopOnDrop(pushed, &mut this.totals);
        let r = fut.poll(cx);
        drop(popper);
        if r.is_ready() {
            check_budget(this.info, &this.totals);
        }
        r
    }
}
