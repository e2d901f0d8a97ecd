use alloc_probe::track_allocs;

#[track_allocs(max_allocs = -1)]
fn negative_count() {}

#[track_allocs(max_bytes = -4096)]
fn negative_bytes() {}

#[track_allocs(max_allocs = 18_446_744_073_709_551_616)]
fn count_overflow() {}

#[track_allocs(max_bytes = 100000000000000000000)]
fn bytes_overflow() {}

#[track_allocs(max_allocs = 10i32)]
fn signed_suffix() {}

#[track_allocs(max_bytes = "64 KB")]
fn decimal_unit() {}

#[track_allocs(max_bytes = "1.5 MiB")]
fn fraction() {}

#[track_allocs(max_bytes = "lots")]
fn no_number() {}

#[track_allocs(max_bytes = "16777216 TiB")]
fn unit_overflow() {}

fn main() {}
