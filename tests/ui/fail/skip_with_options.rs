use alloc_probe::track_allocs;

#[track_allocs(skip, max_allocs = 1)]
fn skip_first() {}

#[track_allocs(enforce = false, skip)]
fn skip_last() {}

#[track_allocs(skip = true)]
fn skip_with_value() {}

fn main() {}
