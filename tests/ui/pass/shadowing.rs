//! User items named like the ones the expansion uses cannot capture it: every path in the
//! expansion is absolute, every added name starts with `__alloc_probe` / `__ALLOC_PROBE`.
#![deny(warnings)]
#![allow(dead_code, non_camel_case_types, unused_macros)]

use ::alloc_probe::track_allocs;

#[global_allocator]
static ALLOC: ::alloc_probe::Probe = ::alloc_probe::Probe::system();

mod core {}
mod alloc_probe {}
struct Option;
struct Some;
struct None;
struct FnInfo;
struct SourceSite;
type Result = ();
fn enter() {}
fn instrument() {}
macro_rules! file {
    () => {
        compile_error!("the user's `file!`")
    };
}
macro_rules! line {
    () => {
        compile_error!("the user's `line!`")
    };
}
macro_rules! cfg {
    ($($t:tt)*) => {
        compile_error!("the user's `cfg!`")
    };
}
trait Future {}
struct str;

#[track_allocs(max_allocs = 5)]
fn shadowed(guard: u32) -> u32 {
    let __alloc_probe_here = guard;
    __alloc_probe_here + 1
}

#[track_allocs]
async fn shadowed_async(x: u32) -> u32 {
    x
}

fn main() {
    assert_eq!(shadowed(1), 2);
    drop(shadowed_async(1));
}
