//! The global allocator, chosen at build time by a cargo feature: `jemalloc` (the default, chosen
//! by measurement: see BENCHMARKS.md), `mimalloc`, or the system allocator without either.
//!
//! It is set here, in the library, rather than in the binary, so that every program built on the
//! library (the server, its tests) allocates through the allocator whose figures it reports.

#[cfg(feature = "jemalloc")]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[cfg(all(feature = "mimalloc", not(feature = "jemalloc")))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The allocator this build uses.
pub const NAME: &str = if cfg!(feature = "jemalloc") {
    "jemalloc"
} else if cfg!(feature = "mimalloc") {
    "mimalloc"
} else {
    "system"
};

/// The allocator's own account of the heap, where it keeps one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllocatorStats {
    /// Bytes the program holds allocated now.
    pub allocated: u64,
    /// Bytes of physical memory the allocator holds (allocated, cached and its own metadata).
    pub resident: u64,
}

/// jemalloc's figures, refreshed now (its statistics are a snapshot taken at each "epoch").
#[cfg(feature = "jemalloc")]
pub fn stats() -> Option<AllocatorStats> {
    use tikv_jemalloc_ctl::{epoch, stats};
    epoch::advance().ok()?;
    Some(AllocatorStats {
        allocated: stats::allocated::read().ok()? as u64,
        resident: stats::resident::read().ok()? as u64,
    })
}

/// The system allocator and mimalloc give no figures through a safe interface.
#[cfg(not(feature = "jemalloc"))]
pub fn stats() -> Option<AllocatorStats> {
    None
}
