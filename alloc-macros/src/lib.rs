//! The `#[track_allocs]` attribute of alloc-probe (being written).
use proc_macro::TokenStream;

/// See `alloc_probe::track_allocs`.
#[proc_macro_attribute]
pub fn track_allocs(_args: TokenStream, item: TokenStream) -> TokenStream {
    item
}
