//! `GET /api/ready`: the database answers, so requests that need it can be served.

use std::time::Duration;

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::web::{
    error::{ApiError, ErrorBody, Result},
    outage::DatabaseOutage,
    state::AppState,
};

/// A readiness probe must answer quickly even when the database hangs.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// The database answers.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Ready {
    /// Always "ready".
    #[schema(example = "ready")]
    pub status: &'static str,
}

/// Readiness: 200 when the database answers within two seconds and, in a process that collects,
/// its latest write went through; 503 with the reason otherwise (a database that does not answer,
/// a SQLite file deleted or replaced, writes refused: a full disk, a read-only file). No restart
/// is needed once it is back: the next write that goes through (the next cycle) ends it.
#[utoipa::path(
    tag = "system",
    operation_id = "getReady",
    responses(
        (status = 200, description = "The database answers (and takes the collector's writes)", body = Ready),
        (status = 503, description = "The database does not answer, or refuses the collector's writes; the message says why", body = ErrorBody),
    )
)]
#[get("/api/ready")]
pub(crate) async fn ready(
    state: web::Data<AppState>,
    outage: Option<web::Data<DatabaseOutage>>,
) -> Result<HttpResponse> {
    let not_ready = |why: String| {
        tracing::warn!(error = why, "not ready");
        ApiError::Unavailable(why)
    };
    state
        .db
        .check_ready(READY_TIMEOUT)
        .await
        .map_err(|err| not_ready(err.to_string()))?;
    // The database answers: an outage the data routes found is over.
    if let Some(outage) = outage {
        outage.reached();
    }
    if let Some(failure) = state.write_health.as_ref().and_then(|h| h.failure()) {
        return Err(not_ready(failure.to_string()));
    }
    Ok(HttpResponse::Ok().json(Ready { status: "ready" }))
}
