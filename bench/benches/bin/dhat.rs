//! Overhead bench process: the shared workload under `dhat::Alloc` with a heap profiler
//! running. The profile is written to the temp dir and deleted after the run.
#[path = "../workload/mod.rs"]
mod workload;

use std::path::PathBuf;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// Stops the profiler (which writes its file) and then deletes the file.
struct Session {
    profiler: Option<dhat::Profiler>,
    file: PathBuf,
}

impl Drop for Session {
    fn drop(&mut self) {
        drop(self.profiler.take());
        let _ = std::fs::remove_file(&self.file);
    }
}

fn main() {
    workload::bench_main(|| {
        let file = std::env::temp_dir().join(format!(
            "alloc-probe-bench-dhat-{}.json",
            std::process::id()
        ));
        let profiler = dhat::Profiler::builder().file_name(&file).build();
        Session {
            profiler: Some(profiler),
            file,
        }
    });
}
