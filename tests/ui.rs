//! Compile-pass and compile-fail cases of `#[track_allocs]`, built with alloc-probe's
//! `instrument` feature on (the root package enables it).
//!
//! Regenerate the `.stderr` files with `TRYBUILD=overwrite cargo test --workspace --test ui`, then read
//! each: every message must be clear and point at the right token.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
