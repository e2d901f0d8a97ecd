//! `unsafe fn`, `extern "C" fn`, and both.
#![deny(warnings)]

use alloc_probe::track_allocs;

#[global_allocator]
static ALLOC: alloc_probe::Probe = alloc_probe::Probe::system();

/// # Safety
/// `p` must point to a valid `u32`.
#[track_allocs]
unsafe fn read(p: *const u32) -> Box<u32> {
    Box::new(unsafe { *p })
}

#[track_allocs]
extern "C" fn callback(x: u32) -> u32 {
    vec![x; 3].iter().sum()
}

#[track_allocs(name = "ffi_entry")]
#[no_mangle]
pub unsafe extern "C" fn alloc_probe_ui_entry(n: usize) -> usize {
    String::with_capacity(n).capacity()
}

fn main() {
    let x = 7u32;
    assert_eq!(*unsafe { read(&x) }, 7);
    let f: extern "C" fn(u32) -> u32 = callback;
    assert_eq!(f(2), 6);
    assert!(unsafe { alloc_probe_ui_entry(10) } >= 10);
}
