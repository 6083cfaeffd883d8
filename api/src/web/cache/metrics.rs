//! The view cache's figures for `/metrics`: lookups that found their entry or computed it,
//! entries evicted to stay within the bound, and the bytes held.

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, gauge::Gauge},
    registry::{Registry, Unit},
};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

/// Clones share their values: the cache keeps one, the registry another.
#[derive(Debug, Clone, Default)]
pub(crate) struct CacheMetrics {
    requests: Family<ResultLabels, Counter>,
    evictions: Counter,
    bytes: Gauge,
    not_modified: Counter,
}

impl CacheMetrics {
    /// Registers every metric in `registry` (which `/metrics` prefixes with `pnode_view_cache`).
    pub(crate) fn register(&self, registry: &mut Registry) {
        registry.register(
            "requests",
            "Cache lookups, by result (hit: found; miss: computed, once for all who waited)",
            self.requests.clone(),
        );
        registry.register(
            "evictions",
            "Entries evicted to keep the cache within its bound",
            self.evictions.clone(),
        );
        registry.register_with_unit(
            "size",
            "Bytes the cache holds, by its own count",
            Unit::Bytes,
            self.bytes.clone(),
        );
        registry.register(
            "not_modified",
            "Requests answered 304 Not Modified (their ETag still current)",
            self.not_modified.clone(),
        );
    }

    pub(super) fn request(&self, hit: bool) {
        let result = if hit { "hit" } else { "miss" };
        self.requests.get_or_create(&ResultLabels { result }).inc();
    }

    pub(super) fn evicted(&self) {
        self.evictions.inc();
    }

    pub(super) fn set_bytes(&self, bytes: u64) {
        self.bytes.set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }

    /// Counts an answer of 304 Not Modified.
    pub(crate) fn not_modified(&self) {
        self.not_modified.inc();
    }
}
