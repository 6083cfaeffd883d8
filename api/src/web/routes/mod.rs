//! HTTP endpoints, one file each. `configure` registers every documented route; the OpenAPI document
//! is collected from the same calls, so the two cannot drift apart.

pub(crate) mod events;
pub(crate) mod fallback;
pub(crate) mod health;
pub(crate) mod history;
pub(crate) mod ingestion_status;
pub(crate) mod leaderboard;
pub mod memory;
pub(crate) mod metrics;
pub(crate) mod network;
pub(crate) mod networks;
pub(crate) mod pnodes;
pub(crate) mod ready;
pub(crate) mod seeds;

use utoipa_actix_web::service_config::ServiceConfig;

/// Registers every documented route.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(health::health)
        .service(ready::ready)
        .service(pnodes::list)
        .service(pnodes::one)
        .service(leaderboard::ranked)
        .service(events::stream_events)
        .service(history::node_history)
        .service(network::summary)
        .service(network::cycles)
        .service(networks::list)
        .service(seeds::list)
        .service(seeds::pnodes)
        .service(ingestion_status::ingestion_status)
        .service(memory::memory)
        .service(metrics::metrics);
}
