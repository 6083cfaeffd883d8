//! `GET /api/network` and `GET /api/network/history`: the network at a glance, now and cycle by
//! cycle.

use actix_web::{HttpRequest, HttpResponse, get, web, web::Bytes};
use chrono::Utc;

use crate::{
    history::{
        self,
        model::NetworkHistory,
        network::NetworkSummary,
        window::{RawWindow, Window},
    },
    web::{
        answer::{Answer, Validity},
        error::{ErrorBody, Result},
        routes::networks::RawNetworks,
        state::AppState,
    },
};

/// The network now: nodes, reachable, public and seen in the last cycle; versions; storage;
/// uptime and credits spreads with the credits leaders; nodes first seen and gone in the last
/// 24 hours; the newest finished cycle. Cached per data version: the 24-hour figures may be one
/// collection interval old.
#[utoipa::path(
    tag = "network",
    operation_id = "getNetwork",
    params(RawNetworks),
    responses(
        (status = 200, description = "The networks now, together and each under `networks`", body = NetworkSummary),
        (status = 304, description = "`If-None-Match` names the current answer"),
        (status = 400, description = "`network` names a network this service does not know", body = ErrorBody),
    )
)]
#[get(
    "/api/network",
    wrap = "actix_web::middleware::from_fn(crate::web::outage::fail_fast)"
)]
pub(crate) async fn summary(
    req: HttpRequest,
    state: web::Data<AppState>,
    networks: web::Query<RawNetworks>,
) -> Result<HttpResponse> {
    let networks = networks.or_all(&state)?;
    let what = format!("/api/network?network={networks:?}");
    let answer = async {
        let summary = history::network_summary(state.db.conn(), &networks, Utc::now()).await?;
        Ok(Bytes::from(serde_json::to_vec(&summary)?))
    };
    // "The last 24 hours" moves with the clock.
    Answer::json(what)
        .valid(Validity::DataAndClock)
        .serve(&req, &state, answer)
        .await
}

/// Finished collection cycles over `[from, to)` (default: the last 24 hours), downsampled into
/// at most `points` buckets: cycles, nodes observed, reachable and public, get-stats attempted
/// and succeeded.
#[utoipa::path(
    tag = "network",
    operation_id = "getNetworkHistory",
    params(RawWindow, RawNetworks),
    responses(
        (status = 200, description = "The cycles by bucket; with both `from` and `to` given it is \
            validated by `ETag` and cached per data version", body = NetworkHistory),
        (status = 304, description = "`If-None-Match` names the current answer"),
        (status = 400, description = "`from`, `to`, `points` or `network` has a bad value; the message names it", body = ErrorBody),
    )
)]
#[get(
    "/api/network/history",
    wrap = "actix_web::middleware::from_fn(crate::web::outage::fail_fast)"
)]
pub(crate) async fn cycles(
    req: HttpRequest,
    state: web::Data<AppState>,
    raw: web::Query<RawWindow>,
    networks: web::Query<RawNetworks>,
) -> Result<HttpResponse> {
    let window = Window::parse(raw.into_inner(), Utc::now(), state.network_history_limit)?;
    let networks = networks.or_all(&state)?;
    let what = format!(
        "/api/network/history?network={networks:?}&{}",
        window.canonical()
    );
    let answer = async {
        let cycles = history::network_history(state.db.conn(), &networks, &window).await?;
        Ok(Bytes::from(serde_json::to_vec(&cycles)?))
    };
    Answer::json(what)
        .valid(Validity::of_window(window.fixed))
        .serve(&req, &state, answer)
        .await
}
