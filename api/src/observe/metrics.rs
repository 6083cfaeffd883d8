//! `/metrics`: the process's figures for Prometheus, kept with the `prometheus-client` crate.
//!
//! Counters and histograms move as things happen (HTTP requests, view requests, collection cycles);
//! memory and pool gauges are read when scraped, so they are never stale.

use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{family::Family, gauge::Gauge},
    registry::{Registry, Unit},
};

use crate::observe::memory::{MemoryProbe, MemorySample};

/// The content type of the OpenMetrics text format, which Prometheus reads.
pub(crate) const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The database pool's connections when scraped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolFigures {
    /// Open (idle or in use) or being opened.
    pub open: u32,
    pub idle: u32,
    /// Most the pool may open.
    pub max: u32,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    state: &'static str,
}

/// Every metric of the process, registered once.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    resident: Gauge,
    virtual_size: Gauge,
    allocated: Gauge,
    allocator_resident: Gauge,
    alert_threshold: Gauge,
    over_alert: Gauge,
    pool: Family<PoolLabels, Gauge>,
    pool_max: Gauge,
}

impl Metrics {
    /// Registers the process's own metrics; every other module adds its own with
    /// [`Metrics::register_prefixed`] or [`Metrics::register`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Lets a module register its own metrics (kept beside it), named `{prefix}_…`.
    pub fn register_prefixed(&mut self, prefix: &str, register: impl FnOnce(&mut Registry)) {
        register(self.registry.sub_registry_with_prefix(prefix));
    }

    /// Lets a module register its own metrics under names of its choosing.
    pub fn register(&mut self, register: impl FnOnce(&mut Registry)) {
        register(&mut self.registry);
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut metrics = Self {
            registry: Registry::default(),
            resident: Gauge::default(),
            virtual_size: Gauge::default(),
            allocated: Gauge::default(),
            allocator_resident: Gauge::default(),
            alert_threshold: Gauge::default(),
            over_alert: Gauge::default(),
            pool: Family::default(),
            pool_max: Gauge::default(),
        };
        metrics.register_own();
        metrics
    }
}

impl Metrics {
    fn register_own(&mut self) {
        let r = &mut self.registry;
        r.register_with_unit(
            "process_resident_memory",
            "Resident set size of the process",
            Unit::Bytes,
            self.resident.clone(),
        );
        r.register_with_unit(
            "process_virtual_memory",
            "Virtual memory size of the process",
            Unit::Bytes,
            self.virtual_size.clone(),
        );
        if crate::observe::allocator::stats().is_some() {
            r.register_with_unit(
                "pnode_allocator_allocated",
                "Bytes allocated by the program through the global allocator",
                Unit::Bytes,
                self.allocated.clone(),
            );
            r.register_with_unit(
                "pnode_allocator_resident",
                "Physical memory held by the global allocator",
                Unit::Bytes,
                self.allocator_resident.clone(),
            );
        }
        r.register_with_unit(
            "pnode_memory_alert_threshold",
            "RSS above which the memory alert fires (0: off)",
            Unit::Bytes,
            self.alert_threshold.clone(),
        );
        r.register(
            "pnode_memory_over_alert",
            "1 while RSS is above the alert threshold",
            self.over_alert.clone(),
        );
        r.register(
            "db_pool_connections",
            "Open database connections, by state",
            self.pool.clone(),
        );
        r.register(
            "db_pool_max_connections",
            "Most connections the database pool may open",
            self.pool_max.clone(),
        );
    }

    /// Every metric in the OpenMetrics text format, with the gauges read now.
    pub fn render(
        &self,
        memory: &MemorySample,
        probe: &MemoryProbe,
        pool: PoolFigures,
    ) -> Result<String, std::fmt::Error> {
        self.resident.set(as_gauge(memory.rss_bytes));
        self.virtual_size.set(as_gauge(memory.virtual_bytes));
        self.allocated
            .set(as_gauge(memory.allocated_bytes.unwrap_or_default()));
        self.allocator_resident.set(as_gauge(
            memory.allocator_resident_bytes.unwrap_or_default(),
        ));
        self.alert_threshold.set(as_gauge(probe.alert_bytes()));
        self.over_alert.set(i64::from(probe.over_alert(memory)));
        let in_use = pool.open.saturating_sub(pool.idle);
        self.pool
            .get_or_create(&PoolLabels { state: "in_use" })
            .set(i64::from(in_use));
        self.pool
            .get_or_create(&PoolLabels { state: "idle" })
            .set(i64::from(pool.idle));
        self.pool_max.set(i64::from(pool.max));
        let mut text = String::new();
        encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

fn as_gauge(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
