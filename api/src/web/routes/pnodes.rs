//! `GET /api/pnodes` and `GET /api/pnodes/{pubkey}`: the global view. Both read the data version
//! first: a client that already has the current answer gets a `304` for that one statement;
//! otherwise the answer comes from the view cache, or from the database when the cache is off.

use actix_web::{HttpRequest, HttpResponse, body::SizedStream, get, web};
use chrono::Utc;
use futures_util::{StreamExt as _, stream};

use crate::{
    domain::params,
    view::{
        self,
        cost::RequestCost,
        model::{GlobalPnode, PageView, PnodesBody},
        query::{PnodeQuery, RawPnodeQuery},
    },
    web::{
        cache::Answer,
        error::{ApiError, ErrorBody, Result},
        export::{self, Format, RawFormat},
        http,
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
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    raw: web::Query<RawPnodeQuery>,
    format: web::Query<RawFormat>,
) -> Result<HttpResponse> {
    let query = PnodeQuery::try_from(raw.into_inner())?;
    let response = match format.negotiate(&req)? {
        Format::Json => json_list(&req, &state, query).await?,
        Format::Csv => csv_list(&req, &state, &query).await?,
    };
    Ok(http::varies_by_accept(response))
}

/// The nodes `query` selects as CSV, from the database (the view cache holds JSON), streamed.
async fn csv_list(req: &HttpRequest, state: &AppState, query: &PnodeQuery) -> Result<HttpResponse> {
    let db = state.db.conn();
    let what = format!("/api/pnodes?{}&format=csv", query.canonical());
    let (_, validators) = match http::revalidate(req, state, &what, true).await? {
        Ok(fresh) => fresh,
        Err(not_modified) => return Ok(not_modified),
    };
    let mut cost = RequestCost::start(&state.view_metrics, &state.memory);
    // The whole network is a full view: computed under the same bound as the JSON one.
    let permit = match query.limit {
        None => Some(state.full_views.enter().await?),
        Some(_) => None,
    };
    let selection = cost.statements().count(view::select(db, query)).await?;
    cost.selected(selection.total);
    let rows = selection.ids.len();
    let body = export::pnodes(
        db.clone(),
        &selection.ids,
        Utc::now(),
        query.scope.clone(),
        cost,
    )
    .inspect(move |_| {
        let _held = &permit;
    });
    Ok(validators
        .ok_to_compress()
        .content_type(export::CONTENT_TYPE)
        .insert_header(export::disposition("pnodes.csv"))
        .insert_header((export::ROW_COUNT, rows.to_string()))
        .streaming(body))
}

/// The nodes `query` selects as JSON: from the view cache, or from the database when it is off.
async fn json_list(req: &HttpRequest, state: &AppState, query: PnodeQuery) -> Result<HttpResponse> {
    let encoding = http::negotiate(req);
    let db = state.db.conn();
    let what = format!("/api/pnodes?{}", query.canonical());
    // `creditDelta24h` moves with the clock.
    let (freshness, validators) = match http::revalidate(req, state, &what, true).await? {
        Ok(fresh) => fresh,
        Err(not_modified) => return Ok(not_modified),
    };
    let mut cost = RequestCost::start(&state.view_metrics, &state.memory);
    let cached = cost.statements().count(state.cache.pnodes(
        db,
        &state.seeds,
        freshness.stamp,
        &query,
        what,
        encoding,
    ));
    if let Some(answer) = cached.await {
        return Ok(match answer? {
            Answer::Pieces(pieces) => {
                let length = pieces.iter().map(|piece| piece.len() as u64).sum();
                let pieces = stream::iter(pieces.into_iter().map(Ok::<_, ApiError>));
                validators.ok().body(SizedStream::new(length, pieces))
            }
            Answer::Body(body) => validators.ok().body(body),
        });
    }
    // The cache is off: straight from the database, compressed on the way out.
    let now = Utc::now();
    let seeds = cost
        .statements()
        .count(view::seeds(db, &state.seeds))
        .await?;
    let Some(limit) = query.limit else {
        // Held until the whole view is sent (or the client goes).
        let permit = state.full_views.enter().await?;
        let selection = cost.statements().count(view::select(db, &query)).await?;
        cost.selected(selection.total);
        let body = view::stream::body(db.clone(), &seeds, selection.ids, now, query.scope, cost)
            .inspect(move |_| {
                let _held = &permit;
            });
        return Ok(validators.ok_to_compress().streaming(body));
    };
    let page = view::page(db, &query, limit, now, &mut cost).await?;
    Ok(validators.ok_to_compress().json(PageView {
        seeds,
        pnodes: page.nodes,
        pagination: page.pagination,
    }))
}

/// One node, by pubkey.
#[utoipa::path(
    tag = "pnodes",
    operation_id = "getPnode",
    params(("pubkey" = String, Path, description = "The node's pubkey (base58)", max_length = 64, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")),
    responses(
        (status = 200, description = "The node", body = GlobalPnode,
            headers(("ETag" = String, description = "Strong validator of this answer"))),
        (status = 304, description = "`If-None-Match` names the current answer"),
        (status = 404, description = "No node has this pubkey", body = ErrorBody),
    )
)]
#[get(
    "/api/pnodes/{pubkey}",
    wrap = "actix_web::middleware::from_fn(crate::web::outage::fail_fast)"
)]
pub async fn one(
    req: HttpRequest,
    state: web::Data<AppState>,
    pubkey: web::Path<String>,
) -> Result<HttpResponse> {
    let pubkey = checked_pubkey(pubkey.into_inner())?;
    let not_found = || no_such_pnode(&pubkey);
    let encoding = http::negotiate(&req);
    let db = state.db.conn();
    let what = format!("/api/pnodes/{pubkey}");
    let (freshness, validators) = match http::revalidate(&req, &state, &what, true).await? {
        Ok(fresh) => fresh,
        Err(not_modified) => return Ok(not_modified),
    };
    let mut cost = RequestCost::start(&state.view_metrics, &state.memory);
    let cached = cost.statements().count(state.cache.pnode(
        db,
        &state.seeds,
        freshness.stamp,
        &pubkey,
        what,
        encoding,
    ));
    if let Some(node) = cached.await {
        return node?
            .map(|body| validators.ok().body(body))
            .ok_or_else(not_found);
    }
    let found = cost
        .statements()
        .count(view::find(db, &pubkey, Utc::now()))
        .await?;
    cost.loaded(found.as_slice());
    found
        .map(|node| validators.ok_to_compress().json(node))
        .ok_or_else(not_found)
}
