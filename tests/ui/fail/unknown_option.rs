use alloc_probe::track_allocs;

#[track_allocs(frobnicate)]
fn unknown() {}

#[track_allocs(max_alloc = 10)]
fn typo() {}

#[track_allocs(Name = "x")]
fn wrong_case() {}

fn main() {}
