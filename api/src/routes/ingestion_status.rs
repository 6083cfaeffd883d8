//! `GET /api/ingestion-status`: the newest collection run's figures, for all seeds or one.

use actix_web::{HttpResponse, get, web};
use chrono::Utc;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::{
    collector::status::{IngestionStatus, status},
    error::{ErrorBody, Result},
    params::InvalidParameter,
    state::AppState,
};

/// Which figures.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatusQuery {
    /// A seed's base URL, or `global` (the default) for all seeds.
    #[serde(rename = "seedBaseUrl")]
    #[param(
        rename = "seedBaseUrl",
        example = "global",
        pattern = r"^(global|https?://.+)?$"
    )]
    pub seed_base_url: Option<String>,
}

/// Counts from the newest finished collection run, and whether one is running now. An unknown
/// seed gets zeros.
#[utoipa::path(
    tag = "collector",
    operation_id = "getIngestionStatus",
    params(StatusQuery),
    responses(
        (status = 200, description = "The newest run's figures", body = IngestionStatus),
        (status = 400, description = "`seedBaseUrl` is neither `global` nor an http(s) URL", body = ErrorBody),
    )
)]
#[get("/api/ingestion-status")]
pub async fn ingestion_status(
    state: web::Data<AppState>,
    query: web::Query<StatusQuery>,
) -> Result<HttpResponse> {
    let seed = match query.seed_base_url.as_deref().map(str::trim) {
        None | Some("" | "global") => None,
        Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
            Some(url.trim_end_matches('/'))
        }
        Some(other) => {
            return Err(InvalidParameter::new(
                "seedBaseUrl",
                format!("must be `global` or a seed's http(s) base URL, not {other:?}"),
            )
            .into());
        }
    };
    let stale_before = Utc::now() - state.cycle_stale_after;
    Ok(HttpResponse::Ok().json(status(state.db.conn(), seed, stale_before).await?))
}
