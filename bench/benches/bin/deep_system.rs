//! Deep bench process: the deep workload under `std::alloc::System`.
#[path = "../deep/mod.rs"]
mod deep;

#[global_allocator]
static ALLOC: std::alloc::System = std::alloc::System;

fn main() {
    deep::deep_main(|| ());
}
