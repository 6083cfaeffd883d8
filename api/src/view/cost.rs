//! What one view request cost: the statements it ran (counted, not assumed) and the rows it loaded.
//! It is recorded when dropped: at the end of the handler for a page or one node, and when the
//! streamed full view ends or is cut by the client.

use std::{sync::Arc, time::Instant};

use prometheus_client::{
    metrics::histogram::{Histogram, exponential_buckets},
    registry::Registry,
};

use super::model::GlobalPnode;
use crate::{
    db::StatementCounter,
    observe::memory::{MB, MemoryProbe},
};

/// Statements executed per view request (`/api/pnodes`, `/api/pnodes/{pubkey}`).
#[derive(Debug, Clone)]
pub struct ViewMetrics {
    statements: Histogram,
}

impl Default for ViewMetrics {
    fn default() -> Self {
        Self {
            statements: Histogram::new(exponential_buckets(1.0, 2.0, 12)),
        }
    }
}

impl ViewMetrics {
    /// Registers `pnode_view_statements`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "pnode_view_statements",
            "Database statements executed per view request",
            self.statements.clone(),
        );
    }
}

/// One view request's account; see the module documentation.
#[derive(Debug)]
pub struct RequestCost {
    statements: StatementCounter,
    metrics: ViewMetrics,
    /// The probe and the RSS before the request, only when the debug line will be written.
    memory: Option<(Arc<MemoryProbe>, u64)>,
    started: Instant,
    /// Node ids selected (and ordered) before paging.
    selected: u64,
    /// Node rows built, each with its newest observation and chosen stats sample.
    nodes: u64,
    /// Seed sighting rows.
    sightings: u64,
}

impl RequestCost {
    /// Starts the account; RSS is read only when debug lines of this module are on.
    pub fn start(metrics: &ViewMetrics, memory: &Arc<MemoryProbe>) -> Self {
        let memory = tracing::enabled!(tracing::Level::DEBUG)
            .then(|| (Arc::clone(memory), memory.sample().rss_bytes));
        Self {
            statements: StatementCounter::default(),
            metrics: metrics.clone(),
            memory,
            started: Instant::now(),
            selected: 0,
            nodes: 0,
            sightings: 0,
        }
    }

    /// The counter the request's database work must run under.
    pub fn statements(&self) -> &StatementCounter {
        &self.statements
    }

    /// Counts the id rows the selection read (every match, before paging).
    pub fn selected(&mut self, rows: u64) {
        self.selected += rows;
    }

    /// Counts nodes built, with their sightings.
    pub fn loaded(&mut self, nodes: &[GlobalPnode]) {
        self.nodes += nodes.len() as u64;
        self.sightings += nodes
            .iter()
            .map(|node| node.seed_base_urls_seen.len() as u64)
            .sum::<u64>();
    }
}

impl Drop for RequestCost {
    fn drop(&mut self) {
        let statements = self.statements.get();
        self.metrics.statements.observe(statements as f64);
        if let Some((probe, rss_before)) = &self.memory {
            let rss_after = probe.sample().rss_bytes;
            tracing::debug!(
                statements,
                selected = self.selected,
                nodes = self.nodes,
                sightings = self.sightings,
                rss_before_mib = rss_before / MB,
                rss_after_mib = rss_after / MB,
                rss_before_bytes = rss_before,
                rss_after_bytes = rss_after,
                elapsed_ms = self.started.elapsed().as_millis() as u64,
                "view request done"
            );
        }
    }
}
