//! `GET /api/ingestion-status`: the newest collection run's figures, for all seeds or one.

use actix_web::{HttpRequest, HttpResponse, get, web, web::Bytes};
use chrono::Utc;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::{
    domain::params::{self, InvalidParameter},
    history::status::{IngestionStatus, status},
    web::{
        answer::{Answer, Validity},
        error::{ErrorBody, Result},
        state::AppState,
    },
};

/// The longest `seedBaseUrl` accepted, in bytes.
const MAX_SEED_BYTES: usize = 512;

/// Which figures.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct StatusQuery {
    /// A seed's base URL, or `global` (the default) for all seeds.
    #[serde(rename = "seedBaseUrl")]
    #[param(
        rename = "seedBaseUrl",
        example = "global",
        pattern = r"^(global|https?://[^\u0000-\u001F\u007F-\u009F]+)?$"
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
        (status = 200, description = "The newest run's figures", body = IngestionStatus,
            headers(("ETag" = String, description = "Strong validator of this answer"))),
        (status = 304, description = "`If-None-Match` names the current answer"),
        (status = 400, description = "`seedBaseUrl` is neither `global` nor an http(s) URL", body = ErrorBody),
    )
)]
#[get(
    "/api/ingestion-status",
    wrap = "actix_web::middleware::from_fn(crate::web::outage::fail_fast)"
)]
pub(crate) async fn ingestion_status(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<StatusQuery>,
) -> Result<HttpResponse> {
    // Control characters are refused before the spaces around the value are trimmed: a tab is
    // a bad value, not an empty one.
    let raw = query
        .into_inner()
        .seed_base_url
        .map(|raw| params::text("seedBaseUrl", raw))
        .transpose()?;
    let seed = match raw.as_deref().map(str::trim) {
        None | Some("" | "global") => None,
        Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
            let url = params::text("seedBaseUrl", url.trim_end_matches('/').to_owned())?;
            Some(params::bounded("seedBaseUrl", url, MAX_SEED_BYTES)?)
        }
        Some(other) => {
            return Err(InvalidParameter::new(
                "seedBaseUrl",
                format!(
                    "must be `global` or a seed's http(s) base URL, not {}",
                    params::excerpt(other)
                ),
            )
            .into());
        }
    };
    let what = format!("/api/ingestion-status?seedBaseUrl={seed:?}");
    let stale_before = Utc::now() - state.cycle_stale_after;
    let answer = async {
        let figures = status(state.db.conn(), seed.as_deref(), stale_before).await?;
        Ok(Bytes::from(serde_json::to_vec(&figures)?))
    };
    // `isRunning` turns false for a cycle unfinished too long: it moves with the clock.
    Answer::json(what)
        .valid(Validity::DataAndClock)
        .serve(&req, &state, answer)
        .await
}
