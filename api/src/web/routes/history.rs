//! `GET /api/pnodes/{pubkey}/history`: one node over a window.

use actix_web::{HttpRequest, HttpResponse, get, web, web::Bytes};
use chrono::Utc;

use crate::{
    history::{
        self,
        model::NodeHistory,
        window::{RawWindow, Window},
    },
    web::{
        answer::{Answer, Validity},
        error::{ErrorBody, Result},
        export::{self, Format, RawFormat},
        routes::{networks::RawNetwork, pnodes::checked_pubkey},
        state::AppState,
    },
};

/// A node's stats downsampled into at most `points` buckets, the changes of its address,
/// version and public flag, the seeds that reported it and its credits, over `[from, to)`
/// (default: the last 24 hours). As CSV (`format=csv`, or `Accept: text/csv`): the stats
/// buckets, one row each.
#[utoipa::path(
    tag = "history",
    operation_id = "getPnodeHistory",
    params(
        ("pubkey" = String, Path, description = "The node's pubkey (base58)", max_length = 64, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$"),
        RawWindow,
        RawNetwork,
        RawFormat,
    ),
    responses(
        (status = 200, description = "The node's history in the window; with both `from` and \
            `to` given it is validated by `ETag` and cached per data version. As CSV, a header \
            row then one row per stats bucket (columns in the README)",
            content(
                (NodeHistory = "application/json"),
                (String = "text/csv", example = json!("bucketStart,samples,cpuPercentAvg,...\r\n2025-12-06T21:00:00.000Z,6,6.6,...\r\n")),
            )),
        (status = 304, description = "`If-None-Match` names the current answer"),
        (status = 400, description = "`from`, `to` or `points` has a bad value; the message names it", body = ErrorBody),
        (status = 404, description = "No node has this pubkey (on that network)", body = ErrorBody),
        (status = 409, description = "The pubkey is a node on several networks and `network` names none: `networks` lists them", body = ErrorBody),
    )
)]
#[get(
    "/api/pnodes/{pubkey}/history",
    wrap = "actix_web::middleware::from_fn(crate::web::outage::fail_fast)"
)]
pub(crate) async fn node_history(
    req: HttpRequest,
    state: web::Data<AppState>,
    pubkey: web::Path<String>,
    raw: web::Query<RawWindow>,
    network: web::Query<RawNetwork>,
    format: web::Query<RawFormat>,
) -> Result<HttpResponse> {
    let pubkey = checked_pubkey(pubkey.into_inner())?;
    let network = network.named(&state)?;
    let network = network.as_ref().map(|network| network.as_str());
    let window = Window::parse(raw.into_inner(), Utc::now(), state.node_history_limit)?;
    let format = format.negotiate(&req)?;
    let answer = Answer::json(format!(
        "/api/pnodes/{pubkey}/history?network={network:?}&{}",
        window.canonical()
    ))
    .valid(Validity::of_window(window.fixed))
    .of_something_that_may_not_exist()
    .in_format(format, "pnode-history.csv");
    let body = async {
        let found = history::node_history(state.db.conn(), &pubkey, network, &window).await?;
        let history = found.found(&pubkey)?;
        match format {
            Format::Json => Ok(Bytes::from(serde_json::to_vec(&history)?)),
            Format::Csv => {
                let columns = &export::STATS_BUCKET_COLUMNS;
                let mut body = export::header(columns).to_vec();
                body.extend_from_slice(&export::rows(&history.stats, columns)?);
                Ok(Bytes::from(body))
            }
        }
    };
    answer.serve(&req, &state, body).await
}
