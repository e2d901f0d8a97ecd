//! The `#[track_allocs]` attribute (see alloc-probe).
