//! What every handler can reach.

use std::sync::Arc;

use crate::{
    db::{Database, health::WriteHealth},
    domain::{network::Network, seeds::Seeds},
    observe::memory::MemoryProbe,
    push::events::hub::EventHub,
    view::{cost::ViewMetrics, overload::FullViewGate},
    web::cache::ViewCache,
};

/// Shared, read-only state of the running app.
#[derive(Debug, Clone)]
pub(crate) struct AppState {
    pub db: Database,
    /// The collector's writes, when this process collects.
    pub write_health: Option<Arc<WriteHealth>>,
    /// The configured seeds, listed by the view (each on its network).
    pub seeds: Seeds,
    /// The networks `network=` may name: the seeds' and the default one, sorted.
    pub networks: Vec<Network>,
    /// Each network's credits source, by its URL without user info.
    pub credits: Vec<(Network, String)>,
    /// An unfinished collection run older than this was abandoned, not running.
    pub cycle_stale_after: chrono::Duration,
    /// This process's memory, for the memory endpoint, `/metrics` and the view's debug lines.
    pub memory: Arc<MemoryProbe>,
    /// Answers per data version.
    pub cache: Arc<ViewCache>,
    /// Live events, for `/api/events`.
    pub events: Arc<EventHub>,
    /// Statements per view request.
    pub view_metrics: ViewMetrics,
    /// The bound on full views computed at once.
    pub full_views: Arc<FullViewGate>,
    /// The collection interval: answers that move with the clock are at most this old.
    pub clock_step: chrono::Duration,
    /// Differs between replicas whose answers differ for the same data (see `http::flavor`).
    pub answer_flavor: u64,
    /// The longest window a node's history may span (what stats are kept for).
    pub node_history_limit: chrono::Duration,
    /// The longest window the network's history may span (what runs are kept for).
    pub network_history_limit: chrono::Duration,
}
