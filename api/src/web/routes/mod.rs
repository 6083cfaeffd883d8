//! HTTP endpoints, one file each. `configure` registers every documented route; the OpenAPI document
//! is collected from the same calls, so the two cannot drift apart.

pub mod events;
pub mod fallback;
pub mod health;
pub mod history;
pub mod ingestion_status;
pub mod leaderboard;
pub mod memory;
pub mod metrics;
pub mod network;
pub mod pnodes;
pub mod ready;
pub mod seeds;

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
        .service(seeds::list)
        .service(seeds::pnodes)
        .service(ingestion_status::ingestion_status)
        .service(memory::memory)
        .service(metrics::metrics);
}
