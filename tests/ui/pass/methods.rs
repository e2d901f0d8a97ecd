//! Methods with every receiver, generic methods, trait impls, and attributed `impl` blocks.
#![deny(warnings)]

use alloc_probe::track_allocs;
use std::fmt::Debug;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

#[global_allocator]
static ALLOC: alloc_probe::Probe = alloc_probe::Probe::system();

#[derive(Clone, Debug, Default)]
struct Bag {
    items: Vec<String>,
}

impl Bag {
    #[track_allocs]
    fn by_value(self) -> Vec<String> {
        self.items
    }

    #[track_allocs]
    fn by_ref(&self) -> usize {
        self.items.len()
    }

    #[track_allocs(max_allocs = 2)]
    fn by_mut(&mut self, s: &str) -> &mut Self {
        self.items.push(s.to_owned());
        self
    }

    #[track_allocs]
    fn boxed(self: Box<Self>) -> Box<Self> {
        self
    }

    #[track_allocs]
    fn rc(self: Rc<Self>) -> usize {
        Rc::strong_count(&self)
    }

    #[track_allocs]
    fn arc(self: &Arc<Self>) -> Arc<Self> {
        Arc::clone(self)
    }

    #[track_allocs]
    fn pinned(self: Pin<&mut Self>) -> usize {
        self.items.len()
    }

    #[track_allocs]
    fn mut_binding(mut self, extra: String) -> Self {
        self.items.push(extra);
        self
    }

    #[track_allocs]
    fn generic<T: ToString>(&self, t: T) -> String {
        let mut s = t.to_string();
        s.push_str(&self.items.concat());
        s
    }

    #[track_allocs]
    fn make() -> Self {
        Self::default()
    }
}

trait Describe {
    fn describe(&self) -> String;
    fn shout(&self) -> String {
        self.describe().to_uppercase()
    }
}

impl Describe for Bag {
    #[track_allocs]
    fn describe(&self) -> String {
        format!("{:?}", self.items)
    }
}

struct Wrapper<T>(T);

// Every function of the block, with the block's options, except the skipped and const ones.
#[track_allocs(max_bytes = "64 KiB", enforce = false)]
impl<T: Debug + Clone> Wrapper<T> {
    fn new(t: T) -> Self {
        Wrapper(t)
    }

    #[track_allocs(name = "Wrapper::show", max_allocs = 3)]
    fn show(&self) -> String {
        format!("{:?}", self.0)
    }

    #[alloc_probe::track_allocs(skip)]
    fn get(&self) -> &T {
        &self.0
    }

    const fn answer() -> u32 {
        42
    }

    fn twice(&self) -> Vec<T> {
        vec![self.0.clone(), self.0.clone()]
    }

    async fn later(&self) -> String {
        self.show()
    }
}

#[track_allocs]
impl<T: Describe> Describe for Wrapper<T> {
    fn describe(&self) -> String {
        self.0.describe()
    }
}

// Still a `const fn`: the block leaves it alone.
const ANSWER: u32 = Wrapper::<u8>::answer();

fn main() {
    let mut bag = Bag::make();
    bag.by_mut("a").by_mut("b");
    assert_eq!(bag.by_ref(), 2);
    assert_eq!(bag.clone().by_value(), ["a", "b"]);
    assert_eq!(Box::new(bag.clone()).boxed().items.len(), 2);
    assert_eq!(Rc::new(bag.clone()).rc(), 1);
    let shared = Arc::new(bag.clone());
    assert_eq!(Arc::strong_count(&shared.arc()), 2);
    assert_eq!(Pin::new(&mut bag).pinned(), 2);
    assert_eq!(bag.clone().mut_binding("c".into()).items.len(), 3);
    assert_eq!(bag.generic(1), "1ab");
    assert_eq!(bag.shout(), "[\"A\", \"B\"]");

    let w = Wrapper::new(5u8);
    assert_eq!(w.show(), "5");
    assert_eq!(*w.get(), 5);
    assert_eq!(ANSWER, 42);
    assert_eq!(w.twice(), [5, 5]);
    drop(w.later());
    assert_eq!(Wrapper(bag).describe(), "[\"a\", \"b\"]");
}
