//! `GET /api/pnodes/{pubkey}/history`: one node over a window.

use actix_web::{HttpRequest, HttpResponse, get, web, web::Bytes};
use chrono::Utc;

use crate::{
    error::{ErrorBody, Result},
    history::{
        self,
        model::NodeHistory,
        window::{RawWindow, Window},
    },
    http, params,
    routes::pnodes::checked_pubkey,
    state::AppState,
    view::ViewError,
};

/// A node's stats downsampled into at most `points` buckets, the changes of its address,
/// version and public flag, the seeds that reported it and its credits, over `[from, to)`
/// (default: the last 24 hours).
#[utoipa::path(
    tag = "history",
    operation_id = "getPnodeHistory",
    params(
        ("pubkey" = String, Path, description = "The node's pubkey (base58)", max_length = 64, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$"),
        RawWindow,
    ),
    responses(
        (status = 200, description = "The node's history in the window; with both `from` and \
            `to` given it is validated by `ETag` and cached per data version", body = NodeHistory),
        (status = 304, description = "`If-None-Match` names the current answer"),
        (status = 400, description = "`from`, `to` or `points` has a bad value; the message names it", body = ErrorBody),
        (status = 404, description = "No node has this pubkey", body = ErrorBody),
    )
)]
#[get(
    "/api/pnodes/{pubkey}/history",
    wrap = "actix_web::middleware::from_fn(crate::outage::fail_fast)"
)]
pub async fn node_history(
    req: HttpRequest,
    state: web::Data<AppState>,
    pubkey: web::Path<String>,
    raw: web::Query<RawWindow>,
) -> Result<HttpResponse> {
    let pubkey = checked_pubkey(pubkey.into_inner())?;
    let window = Window::parse(raw.into_inner(), Utc::now(), state.node_history_limit)?;
    let what = format!("/api/pnodes/{pubkey}/history?{}", window.canonical());
    let answer = async {
        match history::node_history(state.db.conn(), &pubkey, &window).await? {
            Some(history) => Ok(Bytes::from(serde_json::to_vec(&history)?)),
            None => Err(ViewError::NotFound(format!(
                "no pnode has pubkey {}",
                params::excerpt(&pubkey)
            ))),
        }
    };
    http::json_answer(&req, &state, what, window.fixed, false, answer).await
}
