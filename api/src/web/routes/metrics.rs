//! `GET /metrics`: every metric, in the text format Prometheus scrapes.

use actix_web::{HttpResponse, get, web};

use crate::{
    observe::metrics::{CONTENT_TYPE, Metrics, PoolFigures},
    web::{
        error::{ApiError, ErrorBody, Result},
        state::AppState,
    },
};

/// Process memory, HTTP requests by route and status with latency, the database pool, statements
/// per view request, the view cache and the collector's cycles, in the OpenMetrics text format.
#[utoipa::path(
    tag = "system",
    operation_id = "getMetrics",
    responses(
        (status = 200, description = "The metrics now", body = String,
            content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8"),
        (status = 500, description = "The metrics could not be written", body = ErrorBody),
    )
)]
#[get("/metrics")]
pub(crate) async fn metrics(
    state: web::Data<AppState>,
    metrics: web::Data<Metrics>,
) -> Result<HttpResponse> {
    let sample = state.memory.sample();
    state.cache.refresh_size().await;
    let pool = state.db.pool_stats();
    let pool = PoolFigures {
        open: pool.open,
        idle: pool.idle,
        max: pool.max,
    };
    let text = metrics
        .render(&sample, &state.memory, pool)
        .map_err(|err| ApiError::Internal(anyhow::anyhow!("cannot write the metrics: {err}")))?;
    Ok(HttpResponse::Ok().content_type(CONTENT_TYPE).body(text))
}
