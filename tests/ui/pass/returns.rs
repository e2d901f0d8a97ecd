//! Return types the expansion must keep working with: closures returned as `impl Fn`, whose
//! signature comes from the return type, `!` through a macro, and types a macro names.
#![deny(warnings)]

use alloc_probe::track_allocs;

#[global_allocator]
static ALLOC: alloc_probe::Probe = alloc_probe::Probe::system();

#[track_allocs]
fn lens() -> impl Fn(&str) -> usize {
    |s| s.len()
}

#[track_allocs]
fn identity() -> impl Fn(&str) -> &str {
    |s| s
}

#[track_allocs]
fn boxed_len() -> Box<dyn Fn(&str) -> usize> {
    Box::new(|s: &str| s.len())
}

macro_rules! never_fn {
    ($t:ty) => {
        #[track_allocs]
        fn give_up() -> $t {
            panic!("never called")
        }
    };
}
never_fn!(!);

macro_rules! vec_of {
    ($t:ty) => {
        Vec<$t>
    };
}

#[track_allocs]
fn named_by_a_macro() -> vec_of!(u8) {
    vec![1, 2]
}

fn main() {
    assert_eq!(lens()("abc"), 3);
    assert_eq!(identity()("x"), "x");
    assert_eq!(boxed_len()("ab"), 2);
    assert_eq!(named_by_a_macro(), [1, 2]);
    if std::env::args().count() > 99 {
        give_up();
    }
}
