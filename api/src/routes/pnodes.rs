//! `GET /api/pnodes` and `GET /api/pnodes/{pubkey}`: the global view.

use actix_web::{HttpResponse, get, http::header::ContentType, web};
use chrono::Utc;

use crate::{
    error::{ApiError, ErrorBody, Result},
    metrics::Metrics,
    state::AppState,
    view::{
        self,
        cost::RequestCost,
        model::{GlobalPnode, PageView, PnodesBody},
        query::{PnodeQuery, RawPnodeQuery},
    },
};

/// Every node as the network sees it now, with the seeds that have reported it. Without `limit`
/// the whole selection is streamed; with it, one page and `pagination`.
#[utoipa::path(
    tag = "pnodes",
    operation_id = "listPnodes",
    params(RawPnodeQuery),
    responses(
        (status = 200, description = "The selected nodes, in order: the whole network \
            (`globalPnodes`) without `limit`, one page (`pnodes`, `pagination`) with it", body = PnodesBody),
        (status = 400, description = "A parameter has a bad value; the message names it", body = ErrorBody),
    )
)]
#[get("/api/pnodes")]
pub async fn list(
    state: web::Data<AppState>,
    metrics: web::Data<Metrics>,
    raw: web::Query<RawPnodeQuery>,
) -> Result<HttpResponse> {
    let query = PnodeQuery::try_from(raw.into_inner())?;
    let db = state.db.conn();
    let now = Utc::now();
    let mut cost = RequestCost::start(metrics.into_inner(), &state.memory);
    let seeds = cost
        .statements()
        .count(view::seeds(db, &state.seeds))
        .await?;
    let Some(limit) = query.limit else {
        let selection = cost.statements().count(view::select(db, &query)).await?;
        cost.selected(selection.total);
        let body = view::stream::body(db.clone(), &seeds, selection.ids, now, cost);
        return Ok(HttpResponse::Ok()
            .content_type(ContentType::json())
            .streaming(body));
    };
    let page = view::page(db, &query, limit, now, &mut cost).await?;
    Ok(HttpResponse::Ok().json(PageView {
        seeds,
        pnodes: page.nodes,
        pagination: page.pagination,
    }))
}

/// One node, by pubkey.
#[utoipa::path(
    tag = "pnodes",
    operation_id = "getPnode",
    params(("pubkey" = String, Path, description = "The node's pubkey (base58)")),
    responses(
        (status = 200, description = "The node", body = GlobalPnode),
        (status = 404, description = "No node has this pubkey", body = ErrorBody),
    )
)]
#[get("/api/pnodes/{pubkey}")]
pub async fn one(
    state: web::Data<AppState>,
    metrics: web::Data<Metrics>,
    pubkey: web::Path<String>,
) -> Result<HttpResponse> {
    let pubkey = pubkey.into_inner();
    let mut cost = RequestCost::start(metrics.into_inner(), &state.memory);
    let found = cost
        .statements()
        .count(view::find(state.db.conn(), &pubkey, Utc::now()))
        .await?;
    cost.loaded(found.as_slice());
    match found {
        Some(node) => Ok(HttpResponse::Ok().json(node)),
        None => Err(ApiError::NotFound(format!(
            "no pnode has pubkey {pubkey:?}"
        ))),
    }
}
