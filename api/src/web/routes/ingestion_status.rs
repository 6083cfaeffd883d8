//! `GET /api/ingestion-status`: the newest collection run's figures, for all seeds or one.

use actix_web::{HttpRequest, HttpResponse, get, web, web::Bytes};
use chrono::Utc;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::{
    domain::{
        network,
        params::{self, InvalidParameter},
    },
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
    /// Only these networks: one name or a comma list (default: every network). A name this
    /// service does not know is a 400.
    #[param(
        example = "mainnet",
        max_length = 200,
        pattern = r"^[a-z][a-z0-9-]{0,31}( *, *[a-z][a-z0-9-]{0,31})*$"
    )]
    pub network: Option<String>,
}

/// Counts from each network's newest finished collection run (added up over the networks asked
/// for, each network's own under `networks`), and whether one is running now. An unknown seed
/// gets zeros.
#[utoipa::path(
    tag = "collector",
    operation_id = "getIngestionStatus",
    params(StatusQuery),
    responses(
        (status = 200, description = "The newest run's figures", body = IngestionStatus,
            headers(("ETag" = String, description = "Strong validator of this answer"))),
        (status = 304, description = "`If-None-Match` names the current answer"),
        (status = 400, description = "`seedBaseUrl` is neither `global` nor an http(s) URL, or `network` names a network this service does not know", body = ErrorBody),
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
    let query = query.into_inner();
    let networks = network::selection(query.network.as_deref(), &state.networks)?
        .unwrap_or_else(|| state.networks.clone());
    // Control characters are refused before the spaces around the value are trimmed: a tab is
    // a bad value, not an empty one.
    let raw = query
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
    let what = format!("/api/ingestion-status?seedBaseUrl={seed:?}&network={networks:?}");
    let stale_before = Utc::now() - state.cycle_stale_after;
    let answer = async {
        let figures = status(state.db.conn(), seed.as_deref(), &networks, stale_before).await?;
        Ok(Bytes::from(serde_json::to_vec(&figures)?))
    };
    // `isRunning` turns false for a cycle unfinished too long: it moves with the clock.
    Answer::json(what)
        .valid(Validity::DataAndClock)
        .serve(&req, &state, answer)
        .await
}
