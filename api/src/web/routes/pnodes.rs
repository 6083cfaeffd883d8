//! `GET /api/pnodes` and `GET /api/pnodes/{pubkey}`: the global view. Both read the data version
//! first: a client that already has the current answer gets a `304` for that one statement;
//! otherwise the answer comes from the view cache, or from the database when the cache is off.

use actix_web::{HttpRequest, HttpResponse, get, web};

use crate::{
    domain::params,
    view::{
        model::{GlobalPnode, PnodesBody},
        query::{PnodeQuery, RawPnodeQuery},
    },
    web::{
        answer::{
            Answer,
            pnodes::{self, Source},
        },
        error::{ApiError, ErrorBody, Result},
        export::RawFormat,
        routes::networks::RawNetwork,
        state::AppState,
    },
};

/// The longest pubkey looked up: base58 of 32 bytes is at most 44 characters.
const MAX_PUBKEY_LEN: usize = 64;

/// A pubkey from a path, if it can be one: a control character is a bad parameter (400); longer
/// than any pubkey is "no such node" (404). Either message quotes only its start.
pub(crate) fn checked_pubkey(pubkey: String) -> Result<String, ApiError> {
    let pubkey = params::text("pubkey", pubkey)?;
    if pubkey.len() > MAX_PUBKEY_LEN {
        return Err(no_such_pnode(&pubkey));
    }
    Ok(pubkey)
}

/// 404 for `pubkey`, quoting its start.
pub(crate) fn no_such_pnode(pubkey: &str) -> ApiError {
    ApiError::NotFound(format!("no pnode has pubkey {}", params::excerpt(pubkey)))
}

/// Every node as the network sees it now, with the seeds that have reported it. Without `limit`
/// the whole selection; with it, one page and `pagination`. As CSV (`format=csv`, or `Accept:
/// text/csv`): the same nodes in the same order, one row each, streamed.
#[utoipa::path(
    tag = "pnodes",
    operation_id = "listPnodes",
    params(RawPnodeQuery, RawFormat),
    responses(
        (status = 200, description = "The selected nodes, in order: the whole network \
            (`globalPnodes`) without `limit`, one page (`pnodes`, `pagination`) with it; as CSV, \
            a header row then one row per node (columns in the README)",
            content(
                (PnodesBody = "application/json"),
                (String = "text/csv", example = json!("id,pubkey,reachable,...\r\n17,7T4zPNNDAT7rwkQ6Rf2QyMvLwowQ4KDSxKRXF9qEtYvR,true,...\r\n")),
            ),
            headers(
                ("ETag" = String, description = "Strong validator of this answer: the data version, the question and the encoding"),
                ("Last-Modified" = String, description = "When the newest collection cycle finished"),
                ("Cache-Control" = String, description = "`no-cache`: revalidate every time (the 304 is cheap)"),
            )),
        (status = 304, description = "`If-None-Match` names the current answer: nothing has been written since"),
        (status = 400, description = "A parameter has a bad value; the message names it", body = ErrorBody),
    )
)]
#[get(
    "/api/pnodes",
    wrap = "actix_web::middleware::from_fn(crate::web::outage::fail_fast)"
)]
pub(crate) async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    raw: web::Query<RawPnodeQuery>,
    format: web::Query<RawFormat>,
) -> Result<HttpResponse> {
    let query = PnodeQuery::parse(raw.into_inner(), &state.networks)?;
    let answer = Answer::json(format!("/api/pnodes?{}", query.canonical()))
        .in_format(format.negotiate(&req)?, "pnodes.csv");
    pnodes::respond(&req, &state, answer, Source::Query(query), None).await
}

/// One node, by pubkey (and network, when the pubkey is a node on several).
#[utoipa::path(
    tag = "pnodes",
    operation_id = "getPnode",
    params(
        ("pubkey" = String, Path, description = "The node's pubkey (base58)", max_length = 64, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$"),
        RawNetwork,
    ),
    responses(
        (status = 200, description = "The node", body = GlobalPnode,
            headers(("ETag" = String, description = "Strong validator of this answer"))),
        (status = 304, description = "`If-None-Match` names the current answer"),
        (status = 400, description = "`network` names no network this service knows", body = ErrorBody),
        (status = 404, description = "No node has this pubkey (on that network)", body = ErrorBody),
        (status = 409, description = "The pubkey is a node on several networks and `network` names none: `networks` lists them", body = ErrorBody),
    )
)]
#[get(
    "/api/pnodes/{pubkey}",
    wrap = "actix_web::middleware::from_fn(crate::web::outage::fail_fast)"
)]
pub(crate) async fn one(
    req: HttpRequest,
    state: web::Data<AppState>,
    pubkey: web::Path<String>,
    network: web::Query<RawNetwork>,
) -> Result<HttpResponse> {
    let pubkey = checked_pubkey(pubkey.into_inner())?;
    let network = network.named(&state)?;
    pnodes::respond_one(&req, &state, &pubkey, network.as_ref()).await
}
