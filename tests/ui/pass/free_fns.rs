//! Free functions of every shape, with early returns, `?`, panics and recursion.
#![deny(warnings)]
#![forbid(unsafe_code)]

use alloc_probe::track_allocs;
use std::fmt::Display;
use std::num::ParseIntError;

#[global_allocator]
static ALLOC: alloc_probe::Probe = alloc_probe::Probe::system();

#[track_allocs]
fn plain() -> Vec<u32> {
    let mut v = Vec::with_capacity(2);
    v.push(1);
    v.push(2);
    v
}

#[track_allocs(
    name = "parse_sum",
    max_allocs = 10,
    max_bytes = "1 KiB",
    enforce = false
)]
fn sum(input: &str) -> Result<u64, ParseIntError> {
    if input.is_empty() {
        return Ok(0);
    }
    let mut total = 0;
    for part in input.split(',') {
        total += part.trim().parse::<u64>()?;
    }
    Ok(total)
}

#[track_allocs(max_bytes = 65_536, max_allocs = 1_000u64, enforce = true)]
fn labels<T: Display>(items: &[T]) -> impl Iterator<Item = String> + '_ {
    items.iter().map(|i| format!("<{i}>"))
}

#[track_allocs]
fn fib(n: u64) -> u64 {
    if n < 2 {
        n
    } else {
        fib(n - 1) + fib(n - 2)
    }
}

#[track_allocs]
fn boom(msg: &str) -> ! {
    panic!("{}", msg.to_string())
}

#[track_allocs]
fn r#type() -> &'static str {
    "raw identifiers keep working"
}

#[track_allocs]
fn with_inner_attribute() -> u32 {
    #![allow(clippy::let_and_return)]
    let x = 1;
    x
}

#[track_allocs]
fn where_clause<I>(items: I) -> Vec<I::Item>
where
    I: IntoIterator,
    I::Item: Clone,
{
    items.into_iter().collect()
}

#[track_allocs]
fn unit_return() {}

/// Other attributes and doc comments stay.
#[track_allocs]
#[inline]
#[must_use]
fn impl_trait_arg(x: impl Display, y: &dyn Display) -> String {
    [x.to_string(), y.to_string()].concat()
}

// Spans from a macro_rules! definition.
macro_rules! tracked {
    ($name:ident, $n:expr) => {
        #[track_allocs]
        fn $name() -> Vec<u8> {
            vec![0; $n]
        }
    };
}
tracked!(from_macro, 3);

#[track_allocs(max_allocs = 0)]
fn lifetimes<'a, 'b: 'a>(a: &'a str, _b: &'b str) -> &'a str {
    a
}

fn main() {
    assert_eq!(plain(), [1, 2]);
    assert_eq!(sum("1, 2,3"), Ok(6));
    assert_eq!(sum(""), Ok(0));
    assert!(sum("1,x").is_err());
    assert_eq!(labels(&[1, 2]).collect::<Vec<_>>(), ["<1>", "<2>"]);
    assert_eq!(fib(10), 55);
    let caught = std::panic::catch_unwind(|| boom("expected"));
    assert!(caught.is_err());
    assert_eq!(r#type(), "raw identifiers keep working");
    assert_eq!(with_inner_attribute(), 1);
    assert_eq!(where_clause(vec!["a"]), ["a"]);
    unit_return();
    assert_eq!(impl_trait_arg(1, &2), "12");
    assert_eq!(from_macro(), [0, 0, 0]);
    assert_eq!(lifetimes("a", "b"), "a");
}
