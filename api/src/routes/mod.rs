//! HTTP endpoints, one file each. `configure` registers every documented route; the OpenAPI document
//! is collected from the same calls, so the two cannot drift apart.

pub mod fallback;
pub mod health;
pub mod ingestion_status;
pub mod memory;
pub mod metrics;
pub mod pnodes;
pub mod ready;

use utoipa_actix_web::service_config::ServiceConfig;

/// Registers every documented route.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(health::health)
        .service(ready::ready)
        .service(pnodes::list)
        .service(pnodes::one)
        .service(ingestion_status::ingestion_status)
        .service(memory::memory)
        .service(metrics::metrics);
}
