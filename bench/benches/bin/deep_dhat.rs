//! Deep bench process: the deep workload under `dhat::Alloc` with a heap profiler running.
//! The profile is written to the temp dir and deleted after the run.
#[path = "../deep/mod.rs"]
mod deep;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn main() {
    let file = std::env::temp_dir().join(format!(
        "alloc-probe-bench-deep-dhat-{}.json",
        std::process::id()
    ));
    let mut profiler = Some(dhat::Profiler::builder().file_name(&file).build());
    deep::deep_main(|| drop(profiler.take()));
    let _ = std::fs::remove_file(&file);
}
