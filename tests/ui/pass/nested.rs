//! Tracked functions nested in tracked functions, and modules: every function inside, down
//! through nested modules, `impl` blocks and trait default bodies; `skip` opts out.
#![deny(warnings)]

use alloc_probe::track_allocs;

#[global_allocator]
static ALLOC: alloc_probe::Probe = alloc_probe::Probe::system();

#[track_allocs]
fn outer(n: u32) -> Vec<String> {
    #[track_allocs]
    fn inner(n: u32) -> String {
        #[track_allocs(name = "innermost")]
        fn innermost(n: u32) -> String {
            n.to_string()
        }
        innermost(n)
    }

    // An untracked nested fn inside a tracked one.
    fn helper(n: u32) -> u32 {
        n * 2
    }

    let closure = |i: u32| inner(helper(i));
    (0..n).map(closure).collect()
}

#[track_allocs(max_allocs = 1_000, enforce = false)]
mod shapes {
    pub fn area(w: u32, h: u32) -> Box<u32> {
        Box::new(w * h)
    }

    pub const fn perimeter(w: u32, h: u32) -> u32 {
        2 * (w + h)
    }

    #[track_allocs(skip)]
    pub fn untracked() -> u32 {
        1
    }

    pub struct Square(pub u32);

    impl Square {
        pub fn label(&self) -> String {
            format!("square {}", self.0)
        }

        #[track_allocs(max_allocs = 1)]
        pub fn side(&self) -> u32 {
            self.0
        }
    }

    pub trait Named {
        fn name(&self) -> String {
            "unnamed".to_string()
        }
        fn id(&self) -> u32;
    }

    impl Named for Square {
        fn id(&self) -> u32 {
            self.0
        }
    }

    pub mod deeper {
        pub fn list() -> Vec<u32> {
            vec![1, 2, 3]
        }

        #[track_allocs(skip)]
        impl super::Square {
            pub fn untracked_method(&self) -> u32 {
                self.0
            }
        }

        #[track_allocs(max_bytes = "1 MiB")]
        pub mod deepest {
            pub async fn later() -> Vec<u8> {
                Vec::with_capacity(8)
            }
        }
    }
}

use shapes::Named;

const PERIMETER: u32 = shapes::perimeter(1, 2);

fn main() {
    assert_eq!(outer(3), ["0", "2", "4"]);
    assert_eq!(*shapes::area(2, 3), 6);
    assert_eq!(PERIMETER, 6);
    assert_eq!(shapes::untracked(), 1);
    let sq = shapes::Square(4);
    assert_eq!(sq.label(), "square 4");
    assert_eq!(sq.side(), 4);
    assert_eq!(sq.name(), "unnamed");
    assert_eq!(sq.id(), 4);
    assert_eq!(sq.untracked_method(), 4);
    assert_eq!(shapes::deeper::list(), [1, 2, 3]);
    drop(shapes::deeper::deepest::later());
}
