//! `GET /api/health`: the process is up. Touches nothing else.

use actix_web::{HttpResponse, get};
use serde::Serialize;
use utoipa::ToSchema;

/// The process answers.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Health {
    /// Always "ok".
    #[schema(example = "ok")]
    pub status: &'static str,
    /// The running build's version.
    #[schema(example = "0.1.0")]
    pub version: &'static str,
}

/// Liveness: answers as long as the process serves HTTP, whatever the database does.
#[utoipa::path(
    tag = "system",
    operation_id = "getHealth",
    responses((status = 200, description = "The process is up", body = Health))
)]
#[get("/api/health")]
pub(crate) async fn health() -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
    })
}
