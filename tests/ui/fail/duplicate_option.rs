use alloc_probe::track_allocs;

#[track_allocs(name = "a", name = "b")]
fn name() {}

#[track_allocs(max_allocs = 1, max_bytes = 2, max_allocs = 3)]
fn max_allocs() {}

#[track_allocs(max_bytes = 1, max_bytes = "1 KiB")]
fn max_bytes() {}

#[track_allocs(enforce = true, enforce = false)]
fn enforce() {}

#[track_allocs(skip, skip)]
fn skip() {}

fn main() {}
