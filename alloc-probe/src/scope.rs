//! Tracked calls: the scopes `#[track_allocs]` opens around a function body.
//!
//! Each thread keeps a fixed-size stack of the tracked calls running on it; every call gets a
//! per-thread invocation number, which block headers carry, so a free can tell exactly whether
//! the call that allocated the block is still running.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

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

/// Ends a tracked call when dropped, also during unwinding.
pub struct ScopeGuard {
    _info: &'static FnInfo,
}

/// Opens a tracked call of `info` on this thread.
pub fn enter(info: &'static FnInfo) -> ScopeGuard {
    ScopeGuard { _info: info }
}

/// A future whose every poll runs inside the tracked call of `info`.
pub struct Instrumented<F> {
    _info: &'static FnInfo,
    fut: F,
}

/// Wraps an `async fn` body.
pub fn instrument<F: Future>(info: &'static FnInfo, fut: F) -> Instrumented<F> {
    Instrumented { _info: info, fut }
}

impl<F: Future> Future for Instrumented<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `fut` is structurally pinned: it is never moved out of `self`.
        let fut = unsafe { self.map_unchecked_mut(|s| &mut s.fut) };
        fut.poll(cx)
    }
}

/// Most tracked calls nested on one thread that get their own scope; deeper ones (deep
/// recursion) are counted in the deepest scope.
pub(crate) const MAX_DEPTH: usize = 64;

#[derive(Clone, Copy)]
pub(crate) struct Frame {
    pub info: *const FnInfo,
    pub invocation: u32,
}

/// The tracked calls running on one thread, innermost last.
pub(crate) struct ScopeStack {
    pub depth: usize,
    /// Calls past `MAX_DEPTH`, which share the deepest frame.
    pub overflow: usize,
    next_invocation: u32,
    pub frames: [Frame; MAX_DEPTH],
}

impl ScopeStack {
    pub(crate) const fn new() -> ScopeStack {
        ScopeStack {
            depth: 0,
            overflow: 0,
            next_invocation: 0,
            frames: [Frame {
                info: std::ptr::null(),
                invocation: 0,
            }; MAX_DEPTH],
        }
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

    /// A fresh invocation number: 24 bits, never 0.
    pub(crate) fn next_invocation(&mut self) -> u32 {
        self.next_invocation = (self.next_invocation + 1) & 0xFF_FFFF;
        if self.next_invocation == 0 {
            self.next_invocation = 1;
        }
        self.next_invocation
    }
}
