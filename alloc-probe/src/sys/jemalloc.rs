//! The jemalloc backend (feature `jemalloc`) and jemalloc's own figures.

pub use tikv_jemallocator::Jemalloc;

/// jemalloc's view of the heap, next to our counts: the gap between `allocated` and
/// `resident` is fragmentation, allocator metadata and pages not yet returned to the system.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JemallocStats {
    /// Bytes in blocks the application holds.
    pub allocated: u64,
    /// Bytes in pages that hold application blocks (`allocated` plus their fragmentation).
    pub active: u64,
    /// Bytes in physically resident pages that jemalloc maps.
    pub resident: u64,
    /// Bytes in active extents jemalloc maps.
    pub mapped: u64,
    /// Bytes retained for reuse rather than returned to the system.
    pub retained: u64,
}

/// Reads jemalloc's statistics (after advancing its epoch, so they are current).
pub fn jemalloc_stats() -> Result<JemallocStats, tikv_jemalloc_ctl::Error> {
    use tikv_jemalloc_ctl::{epoch, stats};
    epoch::advance()?;
    Ok(JemallocStats {
        allocated: stats::allocated::read()? as u64,
        active: stats::active::read()? as u64,
        resident: stats::resident::read()? as u64,
        mapped: stats::mapped::read()? as u64,
        retained: stats::retained::read()? as u64,
    })
}
