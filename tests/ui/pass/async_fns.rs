//! `async fn` (free, methods, generic, in trait impls, with `?` and early return), and sync
//! functions returning a future: `Box::pin(async move { .. })` (async-trait's shape) and a
//! tail `async move { .. }` block.
#![deny(warnings)]

use alloc_probe::track_allocs;
use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

#[global_allocator]
static ALLOC: alloc_probe::Probe = alloc_probe::Probe::system();

fn block_on<F: Future>(fut: F) -> F::Output {
    struct Noop;
    impl Wake for Noop {
        fn wake(self: Arc<Self>) {}
    }
    let waker = Waker::from(Arc::new(Noop));
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

/// Pending once, then ready: the tracked call is left and entered again.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

#[track_allocs]
async fn free(n: usize) -> Vec<usize> {
    let mut v = Vec::new();
    for i in 0..n {
        YieldOnce(false).await;
        v.push(i);
    }
    v
}

#[derive(Debug, PartialEq)]
struct MyError(String);

impl From<std::num::ParseIntError> for MyError {
    fn from(e: std::num::ParseIntError) -> Self {
        MyError(e.to_string())
    }
}

// `?` converts through `From`: the future's output type must be known for that.
#[track_allocs(max_allocs = 100)]
async fn parse_all(parts: &[&str]) -> Result<Vec<u32>, MyError> {
    if parts.is_empty() {
        return Err(MyError("nothing".into()));
    }
    let mut out = Vec::new();
    for p in parts {
        out.push(p.parse::<u32>()?);
    }
    Ok(out)
}

#[track_allocs]
async fn generic<T: Clone + Send>(t: &T, n: usize) -> Vec<T> {
    vec![t.clone(); n]
}

#[track_allocs]
async fn returns_impl() -> impl Iterator<Item = u8> {
    vec![1, 2].into_iter()
}

#[track_allocs]
async fn unit() {}

#[track_allocs]
async fn mut_param(mut v: Vec<u8>) -> usize {
    v.push(1);
    v.len()
}

#[track_allocs]
fn recursive(n: u32) -> Pin<Box<dyn Future<Output = u32>>> {
    Box::pin(async move {
        if n == 0 {
            0
        } else {
            recursive(n - 1).await + 1
        }
    })
}

#[track_allocs]
fn tail_block(s: &str) -> impl Future<Output = Result<String, MyError>> + '_ {
    async move {
        let n: u32 = s.parse()?;
        Ok(n.to_string())
    }
}

struct Service {
    name: String,
}

trait Fetch {
    async fn fetch(&self, key: &str) -> String;
    // What `#[async_trait]` turns an `async fn` into.
    fn fetch_boxed<'a>(&'a self, key: &'a str)
        -> Pin<Box<dyn Future<Output = String> + Send + 'a>>;
}

impl Fetch for Service {
    #[track_allocs]
    async fn fetch(&self, key: &str) -> String {
        format!("{}/{key}", self.name)
    }

    #[track_allocs(name = "fetch_boxed")]
    fn fetch_boxed<'a>(
        &'a self,
        key: &'a str,
    ) -> Pin<Box<dyn Future<Output = String> + Send + 'a>> {
        Box::pin(async move {
            let __self = self;
            let __ret: String = { format!("{}/{key}", __self.name) };
            #[allow(unreachable_code)]
            __ret
        })
    }
}

impl Service {
    #[track_allocs]
    async fn consume(self) -> String {
        self.name
    }

    #[track_allocs]
    async fn elided(&self) -> &str {
        &self.name
    }

    #[track_allocs]
    async fn make(name: &str) -> Self {
        Service {
            name: name.to_owned(),
        }
    }

    #[track_allocs]
    async fn borrow_mut(&mut self) -> &mut String {
        self.name.push('!');
        &mut self.name
    }
}

fn assert_send<T: Send>(t: T) -> T {
    t
}

fn main() {
    assert_eq!(block_on(free(3)), [0, 1, 2]);
    assert_eq!(block_on(parse_all(&["1", "2"])), Ok(vec![1, 2]));
    assert!(block_on(parse_all(&["x"])).is_err());
    assert_eq!(block_on(parse_all(&[])), Err(MyError("nothing".into())));
    assert_eq!(block_on(assert_send(generic(&"a", 2))), ["a", "a"]);
    assert_eq!(block_on(returns_impl()).sum::<u8>(), 3);
    block_on(unit());
    assert_eq!(block_on(mut_param(vec![])), 1);
    assert_eq!(block_on(recursive(3)), 3);
    assert_eq!(block_on(tail_block("12")), Ok("12".to_string()));
    let mut svc = Service { name: "svc".into() };
    assert_eq!(block_on(svc.fetch("k")), "svc/k");
    assert_eq!(block_on(assert_send(svc.fetch_boxed("k"))), "svc/k");
    assert_eq!(block_on(svc.elided()), "svc");
    assert_eq!(block_on(Service::make("x")).name, "x");
    block_on(svc.borrow_mut()).push('?');
    assert_eq!(block_on(svc.consume()), "svc!?");
}
