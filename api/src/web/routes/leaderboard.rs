//! `GET /api/leaderboard`: the nodes ranked by score, uptime, credits or storage.

use actix_web::{HttpRequest, HttpResponse, get, web, web::Bytes};

use crate::{
    view::leaderboard::{Leaderboard, LeaderboardQuery, RawLeaderboardQuery, rank},
    web::{
        answer::Answer,
        error::{ErrorBody, Result},
        state::AppState,
    },
};

/// The first `limit` nodes by `metric`, highest first (ties by id), with the score's weights.
/// Computed in SQL from each node's row and cached per data version.
#[utoipa::path(
    tag = "pnodes",
    operation_id = "getLeaderboard",
    params(RawLeaderboardQuery),
    responses(
        (status = 200, description = "The ranked nodes", body = Leaderboard),
        (status = 304, description = "`If-None-Match` names the current answer"),
        (status = 400, description = "`metric`, `limit` or `network` has a bad value; the message names it", body = ErrorBody),
    )
)]
#[get(
    "/api/leaderboard",
    wrap = "actix_web::middleware::from_fn(crate::web::outage::fail_fast)"
)]
pub(crate) async fn ranked(
    req: HttpRequest,
    state: web::Data<AppState>,
    raw: web::Query<RawLeaderboardQuery>,
) -> Result<HttpResponse> {
    let query = LeaderboardQuery::parse(raw.into_inner(), &state.networks)?;
    let what = format!("/api/leaderboard?{}", query.canonical());
    let answer = async {
        let ranked = rank(state.db.conn(), query).await?;
        Ok(Bytes::from(serde_json::to_vec(&ranked)?))
    };
    Answer::json(what).serve(&req, &state, answer).await
}
