use alloc_probe::track_allocs;

#[track_allocs(name = parse)]
fn name_not_a_string() {}

#[track_allocs(name = "")]
fn empty_name() {}

#[track_allocs(max_allocs = "10")]
fn count_as_string() {}

#[track_allocs(max_allocs = 1.5)]
fn count_as_float() {}

const LIMIT: u64 = 10;
#[track_allocs(max_allocs = LIMIT)]
fn count_as_constant() {}

#[track_allocs(max_bytes = true)]
fn bytes_as_bool() {}

#[track_allocs(enforce = 1)]
fn enforce_as_number() {}

#[track_allocs(enforce = "yes")]
fn enforce_as_string() {}

#[track_allocs(max_allocs)]
fn missing_equals() {}

#[track_allocs(max_allocs = )]
fn missing_value() {}

#[track_allocs(max_allocs = 1 enforce = true)]
fn missing_comma() {}

#[track_allocs("name")]
fn not_an_option() {}

fn main() {
    let _ = LIMIT;
}
