//! `#[track_allocs]` at run time: per-function counts (exclusive and inclusive), lookup by
//! name, methods, generics, recursion, panics, async calls, invocation-exact escape classes,
//! source expressions, and budgets.

use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use alloc_probe::track_allocs;

#[global_allocator]
static ALLOC: alloc_probe::Probe = alloc_probe::Probe::system();

fn function(name: &str) -> alloc_probe::FunctionReport {
    let r = alloc_probe::report();
    r.function(name).cloned().unwrap_or_else(|| {
        let names: Vec<&str> = r.functions.iter().map(|f| f.path.as_str()).collect();
        panic!("no tracked function {name}; tracked: {names:#?}")
    })
}

#[track_allocs]
fn leaf_two_boxes(i: u64) -> u64 {
    let a = black_box(Box::new(i));
    let b = black_box(Box::new([i; 2]));
    *a + b[1]
}

#[track_allocs]
fn outer_calls_leaf(n: u64) -> Vec<u64> {
    let mut v = Vec::with_capacity(n as usize);
    for i in 0..n {
        v.push(leaf_two_boxes(i));
    }
    v
}

#[test]
fn exclusive_and_inclusive_counts() {
    for _ in 0..10 {
        black_box(outer_calls_leaf(5));
    }
    let leaf = function("leaf_two_boxes");
    assert_eq!(leaf.calls, 50);
    assert_eq!((leaf.allocs, leaf.bytes), (100, 50 * 24));
    assert_eq!(leaf.inclusive_allocs, 100);
    assert_eq!(leaf.allocs_per_call, 2.0);
    assert_eq!(leaf.bytes_per_call, 24.0);
    // Both boxes are freed before the call returns, in the same invocation: stack-avoidable.
    assert_eq!(
        (leaf.non_escaping, leaf.stack_avoidable, leaf.escaped),
        (100, 100, 0)
    );
    let outer = function("outer_calls_leaf");
    assert_eq!(outer.calls, 10);
    assert_eq!(
        (outer.allocs, outer.bytes),
        (10, 10 * 40),
        "its own Vec only"
    );
    assert_eq!(outer.inclusive_allocs, 10 + 100);
    assert_eq!(outer.allocs_per_call, 11.0);
    assert_eq!(outer.escaped, 10, "the Vec is returned");
    assert!(outer.max_live_bytes >= 40);
}

#[track_allocs]
fn timed(i: u64) -> u64 {
    black_box(i) + 1
}

#[test]
fn wall_time_per_call_is_measured() {
    // One call in 64 is timed; a thousand calls give about sixteen samples.
    for i in 0..1000 {
        black_box(timed(i));
    }
    let f = function("timed");
    assert_eq!(f.calls, 1000);
    assert!(f.ns_per_call > 0.0 && f.ns_per_call < 1e6, "{f:#?}");
}

mod lookup {
    pub struct Lexer;

    impl Lexer {
        #[alloc_probe::track_allocs]
        pub fn tokens(&self, s: &str) -> Vec<String> {
            s.split(' ').map(str::to_owned).collect()
        }
    }
}

#[test]
fn lookup_by_name_or_path_suffix() {
    black_box(lookup::Lexer.tokens("a b c"));
    let path = "track_allocs::lookup::Lexer::tokens";
    assert_eq!(function("tokens").path, path);
    assert_eq!(function("Lexer::tokens").path, path);
    assert_eq!(function("lookup::Lexer::tokens").path, path);
    assert_eq!(function(path).path, path);
    assert!(alloc_probe::report().function("Other::tokens").is_none());
    assert!(alloc_probe::report().function("kens").is_none());
}

#[derive(Default)]
struct Parser {
    seen: Vec<String>,
}

impl Parser {
    #[track_allocs]
    fn parse_line(&mut self, line: &str) -> usize {
        let words: Vec<&str> = line.split(' ').collect();
        for w in &words {
            self.seen.push(w.to_string());
        }
        words.len()
    }

    #[allow(clippy::boxed_local)] // the receiver shape is what is tested
    #[track_allocs(name = "boxed_receiver")]
    fn consume(self: Box<Self>) -> usize {
        self.seen.len()
    }
}

#[test]
fn source_expressions_join_runtime_sites() {
    let mut p = Parser::default();
    for _ in 0..20 {
        p.parse_line("x y");
    }
    let f = function("Parser::parse_line");
    let collect = f
        .sites
        .iter()
        .find(|s| s.kind.as_deref() == Some("collect"))
        .unwrap_or_else(|| panic!("{:#?}", f.sites));
    assert_eq!(collect.allocs, 20);
    assert_eq!(collect.stack_avoidable, 20);
    assert!(
        collect.expr.as_deref().unwrap().contains("collect"),
        "{collect:#?}"
    );
    let to_string = f
        .sites
        .iter()
        .find(|s| s.kind.as_deref().is_some_and(|k| k.contains("to_string")))
        .unwrap_or_else(|| panic!("{:#?}", f.sites));
    assert_eq!(
        to_string.expr.as_deref(),
        Some("self.seen.push(w.to_string())")
    );
    // 40 strings and the `seen` vector's first buffer, which push allocates: all kept.
    assert_eq!((to_string.allocs, to_string.escaped), (41, 41));
    assert!(to_string.reallocs > 0, "the vector grew");
    assert_eq!(Box::new(p).consume(), 40);
    assert_eq!(function("boxed_receiver").calls, 1);
}

#[track_allocs]
fn generic_sum<T: Clone + Into<u64>>(items: &[T]) -> u64 {
    let owned: Vec<T> = items.to_vec();
    owned.into_iter().map(Into::into).sum()
}

#[test]
fn generic_functions_share_one_report() {
    generic_sum(&[1u8, 2, 3]);
    generic_sum(&[1u32, 2]);
    let f = function("generic_sum");
    assert_eq!((f.calls, f.allocs), (2, 2));
}

#[track_allocs]
fn recurse(depth: u32) -> Box<u32> {
    let here = Box::new(depth);
    if depth == 0 {
        return here;
    }
    let below = recurse(depth - 1);
    Box::new(*here + *below)
}

#[test]
fn recursion_gives_each_invocation_its_own_scope() {
    assert_eq!(*recurse(9), 45);
    let f = function("recurse");
    assert_eq!(f.calls, 10);
    // Per call: `here` (freed in the call) and the returned box (escapes), except the
    // deepest call, which returns `here`.
    assert_eq!(f.allocs, 19);
    assert_eq!(f.non_escaping, 9);
    assert_eq!(f.escaped, 10);
    assert_eq!(
        f.inclusive_allocs,
        (0..10)
            .map(|d| if d == 0 { 1 } else { 2 * d + 1 })
            .sum::<u64>()
    );
}

#[track_allocs]
fn panics_after_allocating(fail: bool) -> usize {
    let v = black_box(vec![1u8; 100]);
    if fail {
        panic!("boom");
    }
    v.len()
}

#[track_allocs]
fn after_panic() -> usize {
    black_box(String::from("after")).len()
}

#[test]
fn a_panic_closes_the_scope() {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    assert!(std::panic::catch_unwind(|| panics_after_allocating(true)).is_err());
    std::panic::set_hook(hook);
    after_panic();
    let f = function("panics_after_allocating");
    assert_eq!(f.calls, 1);
    // The vector is dropped while unwinding, inside the call. (Starting a panic allocates
    // too, inside the call: its payload.)
    let vec_site = f
        .sites
        .iter()
        .find(|s| s.kind.as_deref() == Some("vec!"))
        .unwrap();
    assert_eq!((vec_site.allocs, vec_site.non_escaping), (1, 1), "{f:#?}");
    // Had the scope stayed open, `after_panic` would be its callee, not a top-level call.
    assert_eq!(f.inclusive_allocs, f.allocs, "{f:#?}");
    let g = function("after_panic");
    assert_eq!((g.calls, g.allocs, g.inclusive_allocs), (1, 1, 1));
}

#[track_allocs]
fn returns_then_freed_by_next_call(keep: &mut Option<Box<[u8; 20]>>) {
    if let Some(b) = keep.take() {
        drop(black_box(b));
    }
    *keep = Some(black_box(Box::new([3u8; 20])));
}

#[test]
fn invocations_are_matched_exactly() {
    // The frame test is fooled by this pattern (see tests/sites.rs); a tracked call is not:
    // each block is freed by a *later* invocation, so it escaped.
    let mut keep = None;
    for _ in 0..50 {
        returns_then_freed_by_next_call(&mut keep);
    }
    drop(keep);
    let f = function("returns_then_freed_by_next_call");
    assert_eq!((f.calls, f.allocs), (50, 50));
    assert_eq!((f.non_escaping, f.escaped), (0, 50));
}

/// A future that is pending once before it finishes.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            Poll::Pending
        }
    }
}

#[track_allocs]
async fn async_work(n: usize) -> usize {
    let before = black_box(vec![0u8; n]);
    YieldOnce(false).await;
    let after = black_box(vec![1u8; n]);
    drop(before); // freed across the await, in the same invocation
    after.len()
}

fn poll_once<F: Future>(f: Pin<&mut F>) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(Waker::noop()))
}

#[test]
fn async_calls_span_their_awaits_and_exclude_other_tasks() {
    let mut a = Box::pin(async_work(10));
    let mut b = Box::pin(async_work(20));
    assert!(poll_once(a.as_mut()).is_pending());
    // Between a's polls, untracked work on this thread is not a's.
    black_box(vec![0u8; 999]);
    assert!(poll_once(b.as_mut()).is_pending());
    assert_eq!(poll_once(a.as_mut()), Poll::Ready(10));
    assert_eq!(poll_once(b.as_mut()), Poll::Ready(20));
    let f = function("async_work");
    assert_eq!(f.path, "track_allocs::async_work");
    assert_eq!(f.calls, 2);
    assert_eq!((f.allocs, f.bytes), (4, 60));
    // `before` is freed in its own invocation after the await, `after` before the end.
    assert_eq!(f.non_escaping, 4);
}

#[track_allocs]
async fn async_moving(n: usize) -> usize {
    let before = black_box(vec![0u8; n]);
    YieldOnce(false).await;
    let after = black_box(vec![1u8; n]);
    drop(before);
    after.len()
}

#[test]
fn async_call_moving_between_threads() {
    let mut fut = Box::pin(async_moving(7));
    assert!(poll_once(fut.as_mut()).is_pending());
    let done = std::thread::spawn(move || poll_once(fut.as_mut()))
        .join()
        .unwrap();
    assert_eq!(done, Poll::Ready(7));
    let f = function("async_moving");
    // Counted once, though two threads polled it. `before` was allocated on this thread and
    // freed on the other, inside the same call: it never escaped the call, nor did `after`.
    assert_eq!((f.calls, f.allocs, f.bytes), (1, 2, 14));
    assert_eq!((f.non_escaping, f.escaped), (2, 0));
}

#[track_allocs]
fn tail_temporary(n: u64) -> u64 {
    *black_box(Box::new(n))
}

#[track_allocs]
#[allow(clippy::let_and_return)] // the `let` is the point
fn let_temporary(n: u64) -> u64 {
    let v = *black_box(Box::new(n));
    v
}

#[test]
fn temporaries_of_the_tail_expression_stay_in_the_call() {
    // Before edition 2024 a block's tail expression drops its temporaries after the block's
    // locals: the Box is freed as the function returns, not after its call has ended.
    for i in 0..10 {
        assert_eq!(tail_temporary(i) + let_temporary(i), 2 * i);
    }
    for name in ["tail_temporary", "let_temporary"] {
        let f = function(name);
        assert_eq!((f.calls, f.allocs), (10, 10), "{name}");
        assert_eq!((f.non_escaping, f.escaped), (10, 0), "{name}");
    }
}

#[track_allocs(max_allocs = 2, enforce = true)]
fn over_budget(n: usize) -> usize {
    let mut total = 0;
    for i in 0..n {
        total += black_box(format!("{i}")).len();
    }
    total
}

#[test]
fn budgets_fail_with_the_sites() {
    assert_eq!(over_budget(2), 2);
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let err = std::panic::catch_unwind(|| over_budget(5)).unwrap_err();
    std::panic::set_hook(hook);
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(msg.contains("`over_budget`"), "{msg}");
    assert!(
        msg.contains("5 allocations in one call (max_allocs = 2"),
        "{msg}"
    );
    let line = 1 + include_str!("track_allocs.rs")
        .lines()
        .position(|l| l.contains("black_box(format!(\"{i}\"))"))
        .unwrap();
    assert!(
        msg.contains(&format!("tests/track_allocs.rs:{line} in over_budget (5x)")),
        "{msg}"
    );
}

#[track_allocs(max_bytes = 100, enforce = true)]
fn byte_budget(n: usize) -> usize {
    black_box(vec![0u8; n]).len()
}

#[test]
fn byte_budgets() {
    assert_eq!(byte_budget(100), 100);
    let err = std::panic::catch_unwind(|| byte_budget(101)).unwrap_err();
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(
        msg.contains("101 bytes in one call (max_bytes = 100)"),
        "{msg}"
    );
}
