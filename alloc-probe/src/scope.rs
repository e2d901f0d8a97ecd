//! Tracked calls: the scopes `#[track_allocs]` opens around a function body.
//!
//! Each thread keeps a fixed-size stack of the tracked calls running on it; every call gets a
//! per-thread invocation number, which block headers carry, so a free can tell exactly whether
//! the call that allocated the block is still running.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::functions::{self, Figures};
use crate::tally::{self, Slot};
use crate::{clock, guard};

/// A source expression the macro found in a tracked body that may allocate.
#[derive(Debug)]
pub struct SourceSite {
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// The expression's source text, as written (whitespace normalised by the macro).
    pub expr: &'static str,
    /// What kind of allocation it may make, e.g. `"Box::new"`, `"vec!"`, `"format!"`, `"clone"`.
    pub kind: &'static str,
}

/// Static facts about one tracked function, emitted by the macro as a `static`.
pub struct FnInfo {
    /// The report name: the `name = "..."` option, or the function's identifier.
    pub name: &'static str,
    /// Returns `core::any::type_name` of an item nested in the function, whose path names the
    /// function fully (`crate::module::Type::method::__alloc_probe_here`).
    pub path: fn() -> &'static str,
    /// `file!()` of the function.
    pub file: &'static str,
    /// `line!()` of the function's signature.
    pub line: u32,
    /// The possibly-allocating expressions the macro found in the body.
    pub sites: &'static [SourceSite],
    /// Per-call budget on allocation events (allocs + reallocs), callees included.
    pub max_allocs: Option<u64>,
    /// Per-call budget on bytes allocated, callees included.
    pub max_bytes: Option<u64>,
    /// Whether a call over budget panics (the macro passes `cfg!(debug_assertions)` unless
    /// told otherwise).
    pub enforce: bool,
}

/// Most tracked calls nested on one thread that get their own scope; deeper ones (deep
/// recursion) are counted as calls, and their allocations go to the deepest scope.
pub(crate) const MAX_DEPTH: usize = 64;
/// Allocation stacks remembered per budgeted call, for the message when it goes over.
const BUDGET_POINTS: usize = 16;
/// One scope in this many is timed. Reading the clock costs about 20 ns in a virtual machine,
/// more than the rest of a tracked call; timing a regular sample of the calls keeps the
/// mean time per call while costing well under a nanosecond per call.
const TIME_EVERY: u32 = 64;

/// One running tracked call.
#[derive(Clone, Copy)]
pub(crate) struct Frame {
    pub index: u32,
    pub invocation: u32,
    start_allocs: u64,
    start_reallocs: u64,
    start_bytes: u64,
    /// Inclusive figures of finished direct children, to subtract for the exclusive ones.
    child_allocs: u64,
    child_reallocs: u64,
    child_bytes: u64,
    /// 0 when this scope is not timed.
    start_ticks: u64,
    start_net: u64,
    saved_peak: u64,
    /// Whether this scope starts a call (false for an async call's later polls).
    count_call: bool,
    /// Whether the call has a budget, and the stacks of the allocations it made.
    budgeted: bool,
    points: [u32; BUDGET_POINTS],
    npoints: u32,
}

/// The tracked calls running on one thread, innermost last.
pub(crate) struct ScopeStack {
    pub depth: usize,
    /// Calls past `MAX_DEPTH`, which share the deepest frame.
    pub overflow: usize,
    /// Running calls with a budget.
    budgeted: usize,
    next_invocation: u32,
    /// Counts scopes, to time one in `TIME_EVERY`.
    timing: u32,
    /// The last function pushed and its index: hot loops call the same function.
    last_info: *const FnInfo,
    last_index: u32,
    pub frames: [Frame; MAX_DEPTH],
}

impl ScopeStack {
    pub(crate) fn reset(&mut self) {
        self.depth = 0;
        self.overflow = 0;
        self.budgeted = 0;
    }

    /// The invocation number of the innermost running tracked call, or 0.
    #[inline]
    pub(crate) fn current(&self) -> u32 {
        if self.depth == 0 {
            0
        } else {
            self.frames[self.depth - 1].invocation
        }
    }

    /// The running call with this invocation number, if it is still running.
    #[inline]
    pub(crate) fn find(&self, invocation: u32) -> Option<&Frame> {
        self.frames[..self.depth]
            .iter()
            .rev()
            .find(|f| f.invocation == invocation)
    }

    /// Remembers an allocation's stack in every running budgeted call.
    #[inline]
    pub(crate) fn note_point(&mut self, point: u32) {
        if self.budgeted == 0 {
            return;
        }
        for f in self.frames[..self.depth].iter_mut().filter(|f| f.budgeted) {
            if (f.npoints as usize) < BUDGET_POINTS {
                f.points[f.npoints as usize] = point;
            }
            f.npoints = f.npoints.saturating_add(1);
        }
    }

    /// A fresh invocation number: 24 bits, never 0.
    fn next_invocation(&mut self) -> u32 {
        self.next_invocation = (self.next_invocation + 1) & 0xFF_FFFF;
        if self.next_invocation == 0 {
            self.next_invocation = 1;
        }
        self.next_invocation
    }
}

/// What a finished scope measured, inclusive of callees.
#[derive(Default)]
struct Finished {
    allocs: u64,
    reallocs: u64,
    bytes: u64,
    /// Only filled in for budgeted calls.
    points: [u32; BUDGET_POINTS],
    npoints: u32,
}

/// What `push` did.
enum Pushed {
    /// A scope with this invocation number.
    Frame(u32),
    /// Past the depth limit: counted as a call, no scope; `pop` still undoes it.
    Overflow,
    /// Not tracked at all (more functions than the registry holds).
    No,
}

/// Pushes a scope for `info` on this thread. `invocation` continues an earlier one (an async
/// call's later poll); `count_call` says whether this is a new call.
fn push(slot: &Slot, info: &'static FnInfo, invocation: Option<u32>, count_call: bool) -> Pushed {
    // SAFETY: called from user code, not from inside the allocator; nothing here allocates.
    let local = unsafe { slot.local() };
    let s = &mut local.scopes;
    let index = if std::ptr::eq(s.last_info, info) {
        s.last_index
    } else {
        let Some(index) = functions::index(info) else {
            return Pushed::No;
        };
        s.last_info = info;
        s.last_index = index;
        index
    };
    if s.depth == MAX_DEPTH {
        s.overflow += 1;
        if count_call {
            let (t, owned) = functions::tally(Some(&slot.fns), index);
            t.add(
                &Figures {
                    calls: 1,
                    ..Figures::default()
                },
                owned,
            );
        }
        return Pushed::Overflow;
    }
    let invocation = invocation.unwrap_or_else(|| s.next_invocation());
    let (allocs, reallocs, bytes) = slot.event_counts();
    let net = slot.net();
    let budgeted = info.max_allocs.is_some() || info.max_bytes.is_some();
    s.timing = s.timing.wrapping_add(1);
    let timed = s.timing % TIME_EVERY == 0;
    // Field by field: the frame's `points` array is only used by budgeted calls.
    let f = &mut s.frames[s.depth];
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
    f.saved_peak = tally::open_window(slot);
    s.depth += 1;
    if budgeted {
        s.budgeted += 1;
    }
    Pushed::Frame(invocation)
}

/// Pops the innermost scope and adds its figures to its function.
fn pop(slot: &Slot) -> Finished {
    // SAFETY: as in `push`.
    let local = unsafe { slot.local() };
    let s = &mut local.scopes;
    if s.overflow > 0 {
        s.overflow -= 1;
        return Finished::default();
    }
    if s.depth == 0 {
        return Finished::default();
    }
    s.depth -= 1;
    let depth = s.depth;
    let f = &s.frames[depth];
    let (allocs, reallocs, bytes) = slot.event_counts();
    let incl_allocs = allocs.wrapping_sub(f.start_allocs);
    let incl_reallocs = reallocs.wrapping_sub(f.start_reallocs);
    let incl_bytes = bytes.wrapping_sub(f.start_bytes);
    let (index, count_call, start_ticks) = (f.index, f.count_call, f.start_ticks);
    let mut done = Finished {
        allocs: incl_allocs,
        reallocs: incl_reallocs,
        bytes: incl_bytes,
        ..Finished::default()
    };
    if f.budgeted {
        done.points = f.points;
        done.npoints = f.npoints;
        s.budgeted -= 1;
    }
    // Gives an enclosing window (`measure`, an outer call) its peak mark back.
    let start_net = f.start_net;
    let high = tally::close_window(slot, f.saved_peak);
    let (t, owned) = functions::tally(Some(&slot.fns), index);
    if incl_allocs | incl_reallocs | incl_bytes | start_ticks == 0 {
        // The common case on hot paths: a call that allocated nothing and was not timed.
        if count_call {
            t.add_call(owned);
        }
        return done;
    }
    let (child_allocs, child_reallocs, child_bytes) =
        (f.child_allocs, f.child_reallocs, f.child_bytes);
    if depth > 0 {
        let parent = &mut s.frames[depth - 1];
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
    t.add(&figures, owned);
    done
}

/// Ends a tracked call when dropped, also during unwinding.
pub struct ScopeGuard {
    info: &'static FnInfo,
    slot: Option<&'static Slot>,
}

/// Opens a tracked call of `info` on this thread.
#[inline]
pub fn enter(info: &'static FnInfo) -> ScopeGuard {
    let slot = tally::slot().filter(|s| !matches!(push(s, info, None, true), Pushed::No));
    ScopeGuard { info, slot }
}

impl Drop for ScopeGuard {
    #[inline]
    fn drop(&mut self) {
        let Some(slot) = self.slot else { return };
        let done = pop(slot);
        if self.info.max_allocs.is_some() || self.info.max_bytes.is_some() {
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
    let sites = crate::report::build::sites_of_points(
        &done.points[..(done.npoints as usize).min(BUDGET_POINTS)],
    );
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
    /// The thread serial and invocation of the last poll: a later poll on the same thread
    /// continues the same invocation, so blocks freed across an `.await` match it.
    last: Option<(u32, u32)>,
    started: bool,
    totals: Finished,
    fut: F,
}

/// Wraps an `async fn` body.
pub fn instrument<F: Future>(info: &'static FnInfo, fut: F) -> Instrumented<F> {
    Instrumented {
        info,
        last: None,
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
        let slot = tally::slot();
        let mut pushed = false;
        if let Some(slot) = slot {
            // SAFETY: user code, not the allocator; a short read of this thread's serial.
            let serial = unsafe { slot.local() }.serial;
            let again = this.last.filter(|&(s, _)| s == serial).map(|(_, i)| i);
            match push(slot, this.info, again, !this.started) {
                Pushed::Frame(inv) => {
                    this.last = Some((serial, inv));
                    pushed = true;
                }
                Pushed::Overflow => pushed = true,
                Pushed::No => {}
            }
            this.started = true;
        }
        // SAFETY: see above.
        let fut = unsafe { Pin::new_unchecked(&mut this.fut) };
        // Pop even if the poll panics.
        struct PopOnDrop<'a>(Option<&'static Slot>, &'a mut Finished);
        impl Drop for PopOnDrop<'_> {
            fn drop(&mut self) {
                if let Some(slot) = self.0 {
                    let done = pop(slot);
                    self.1.allocs += done.allocs;
                    self.1.reallocs += done.reallocs;
                    self.1.bytes += done.bytes;
                    for &p in &done.points[..(done.npoints as usize).min(BUDGET_POINTS)] {
                        let n = self.1.npoints as usize;
                        if n < BUDGET_POINTS {
                            self.1.points[n] = p;
                        }
                        self.1.npoints = self.1.npoints.saturating_add(1);
                    }
                }
            }
        }
        let popper = PopOnDrop(slot.filter(|_| pushed), &mut this.totals);
        let r = fut.poll(cx);
        drop(popper);
        if r.is_ready() {
            check_budget(this.info, &this.totals);
        }
        r
    }
}
