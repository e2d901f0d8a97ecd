//! [`Stats`]: the exact counters, whole-process or for one measured closure.

use std::ops::Sub;

/// Exact allocation counters.
///
/// Conventions (DHAT's): `alloc` and `alloc_zeroed` count in `allocs`; a `realloc` counts once
/// in `reallocs`, adds its new size to `bytes_allocated` and its old size to
/// `bytes_deallocated`, so `live_bytes == bytes_allocated - bytes_deallocated` always holds; a
/// request that returned null counts only in `failed`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Stats {
    /// Blocks allocated (`alloc` and `alloc_zeroed`).
    pub allocs: u64,
    /// Blocks freed.
    pub deallocs: u64,
    /// Successful `realloc` calls.
    pub reallocs: u64,
    /// Bytes requested by allocations plus the new sizes of reallocations.
    pub bytes_allocated: u64,
    /// Bytes freed plus the old sizes of reallocations.
    pub bytes_deallocated: u64,
    /// Blocks live now: `allocs - deallocs`.
    pub live_blocks: u64,
    /// Bytes live now: `bytes_allocated - bytes_deallocated`.
    pub live_bytes: u64,
    /// The largest `live_bytes` ever reached. For [`measure`](crate::measure), the largest
    /// growth of this thread's live bytes during the closure.
    pub peak_live_bytes: u64,
    /// Requests that failed: the program got null and nothing else counted. Nearly always the
    /// inner allocator refused. alloc-probe refuses on its own only what it cannot track: a
    /// size within a header of `isize::MAX`, or the realloc of a block whose record finds no
    /// room in the side table; the inner allocator is not asked then. Each request the
    /// program makes is at most one request to the inner allocator.
    pub failed: u64,
}

impl Stats {
    /// Heap allocation events: `allocs + reallocs` (a growing `Vec` allocates, as `append` does
    /// in Go). This is what `allocs/op` counts.
    pub fn events(&self) -> u64 {
        self.allocs + self.reallocs
    }
}

/// The difference of two snapshots: `later - earlier`.
///
/// Cumulative counters subtract; `live_*` are recomputed from them (and saturate at zero when
/// the span freed more than it allocated); `peak_live_bytes` is the later snapshot's, since a
/// peak is not additive.
impl Sub for Stats {
    type Output = Stats;

    fn sub(self, earlier: Stats) -> Stats {
        let allocs = self.allocs.saturating_sub(earlier.allocs);
        let deallocs = self.deallocs.saturating_sub(earlier.deallocs);
        let bytes_allocated = self.bytes_allocated.saturating_sub(earlier.bytes_allocated);
        let bytes_deallocated = self
            .bytes_deallocated
            .saturating_sub(earlier.bytes_deallocated);
        Stats {
            allocs,
            deallocs,
            reallocs: self.reallocs.saturating_sub(earlier.reallocs),
            bytes_allocated,
            bytes_deallocated,
            live_blocks: allocs.saturating_sub(deallocs),
            live_bytes: bytes_allocated.saturating_sub(bytes_deallocated),
            peak_live_bytes: self.peak_live_bytes,
            failed: self.failed.saturating_sub(earlier.failed),
        }
    }
}
