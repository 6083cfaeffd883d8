//! `GET /api/system/memory`: this process's memory now, as the OS and the allocator count it.

use actix_web::{HttpResponse, get, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::web::state::AppState;

/// The process's memory at the time of the request.
// Deserialize: `pnode-api soak` reads it back with this same type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemoryBody {
    pub pid: u32,
    /// Resident set size: physical memory in use.
    pub rss_bytes: u64,
    pub virtual_bytes: u64,
    /// Bytes held through the global allocator; null when it does not report them (only the
    /// jemalloc build does).
    pub allocated_bytes: Option<u64>,
    pub uptime_seconds: u64,
    /// RSS above which the memory alert fires (`PNODE_MEMORY_ALERT_MB`; 0: off).
    pub alert_bytes: u64,
    /// Whether RSS is above `alertBytes` now.
    pub over_alert: bool,
}

/// Memory figures read at the time of the request (from `/proc` and the allocator).
#[utoipa::path(
    tag = "system",
    operation_id = "getMemory",
    responses((status = 200, description = "The process's memory now", body = MemoryBody))
)]
#[get("/api/system/memory")]
pub(crate) async fn memory(state: web::Data<AppState>) -> HttpResponse {
    let probe = &state.memory;
    let sample = probe.sample();
    HttpResponse::Ok().json(MemoryBody {
        pid: sample.pid,
        rss_bytes: sample.rss_bytes,
        virtual_bytes: sample.virtual_bytes,
        allocated_bytes: sample.allocated_bytes,
        uptime_seconds: sample.uptime_seconds,
        alert_bytes: probe.alert_bytes(),
        over_alert: probe.over_alert(&sample),
    })
}
