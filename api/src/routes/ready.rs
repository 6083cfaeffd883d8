//! `GET /api/ready`: the database answers, so requests that need it can be served.

use std::time::Duration;

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    error::{ApiError, ErrorBody, Result},
    state::AppState,
};

/// A readiness probe must answer quickly even when the database hangs.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// The database answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ready {
    /// Always "ready".
    #[schema(example = "ready")]
    pub status: &'static str,
}

/// Readiness: 200 when the database answers within two seconds, 503 when it does not. No restart
/// is needed once it is back.
#[utoipa::path(
    tag = "system",
    operation_id = "getReady",
    responses(
        (status = 200, description = "The database answers", body = Ready),
        (status = 503, description = "The database does not answer", body = ErrorBody),
    )
)]
#[get("/api/ready")]
pub async fn ready(state: web::Data<AppState>) -> Result<HttpResponse> {
    state.db.check_ready(READY_TIMEOUT).await.map_err(|err| {
        tracing::warn!(error = %err, "not ready");
        ApiError::Unavailable(err.to_string())
    })?;
    Ok(HttpResponse::Ok().json(Ready { status: "ready" }))
}
