//! `GET /api/seeds` and `GET /api/seeds/{id}/pnodes`: the seeds, and the network as one of them
//! saw it in its newest answer.

use actix_web::{HttpRequest, HttpResponse, get, web, web::Bytes};
use chrono::Utc;

use crate::{
    domain::params::{self, InvalidParameter},
    history::seeds::{self, SeedsBody},
    view::{
        self, CHUNK, ViewError,
        cost::RequestCost,
        model::{FullView, PageView, PnodesBody},
        query::{PnodeQuery, RawPnodeQuery, Scope},
    },
    web::{
        error::{ApiError, ErrorBody, Result},
        http,
        state::AppState,
    },
};

/// Each seed (those configured, then those the data names) with its part in the newest finished
/// cycle: when, nodes reported, error.
#[utoipa::path(
    tag = "seeds",
    operation_id = "listSeeds",
    responses(
        (status = 200, description = "The seeds", body = SeedsBody),
        (status = 304, description = "`If-None-Match` names the current answer"),
    )
)]
#[get(
    "/api/seeds",
    wrap = "actix_web::middleware::from_fn(crate::web::outage::fail_fast)"
)]
pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse> {
    let answer = async {
        let seeds = seeds::seed_list(state.db.conn(), &state.seeds).await?;
        Ok(Bytes::from(serde_json::to_vec(&seeds)?))
    };
    http::json_answer(&req, &state, "/api/seeds".to_owned(), true, false, answer).await
}

/// The nodes one seed reported in its newest answer, as it reported them (address, version,
/// public flag, storage from its own observation; stats and credits as in `/api/pnodes`), with
/// the filters, orders and pages of `/api/pnodes`.
#[utoipa::path(
    tag = "seeds",
    operation_id = "listSeedPnodes",
    params(
        ("id" = String, Path, description = "The seed's base URL, URL-encoded \
            (`http%3A%2F%2F192.190.136.36%3A6000`), or its position in `/api/seeds` from 1", max_length = 512, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$"),
        RawPnodeQuery,
    ),
    responses(
        (status = 200, description = "The seed's view: `globalPnodes` without `limit`, a page \
            with it (empty when the seed has no kept answer)", body = PnodesBody),
        (status = 304, description = "`If-None-Match` names the current answer"),
        (status = 400, description = "A parameter has a bad value; the message names it", body = ErrorBody),
        (status = 404, description = "No seed has this id", body = ErrorBody),
    )
)]
#[get(
    "/api/seeds/{id}/pnodes",
    wrap = "actix_web::middleware::from_fn(crate::web::outage::fail_fast)"
)]
pub async fn pnodes(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    raw: web::Query<RawPnodeQuery>,
) -> Result<HttpResponse> {
    let mut query = PnodeQuery::try_from(raw.into_inner())?;
    let db = state.db.conn();
    let listed = view::seeds(db, &state.seeds).await?;
    let id = decoded(&id.into_inner())?;
    let seed = match id.parse::<usize>() {
        Ok(position) => listed.get(position.wrapping_sub(1)),
        Err(_) => listed
            .iter()
            .find(|seed| seed.base_url == id.trim_end_matches('/')),
    }
    .ok_or_else(|| ApiError::NotFound(format!("no seed has id {}", params::excerpt(&id))))?
    .clone();
    let Some(answered_at) = seeds::answered_at(db, &seed.base_url).await? else {
        return Ok(empty(listed, &query));
    };
    query.scope = Scope::Seed {
        base_url: seed.base_url,
        answered_at,
    };
    let what = format!("/api/seeds/pnodes?{}", query.canonical());
    let answer = async {
        let now = Utc::now();
        let body = match query.limit {
            Some(limit) => {
                let mut cost = RequestCost::start(&state.view_metrics, &state.memory);
                let page = view::page(db, &query, limit, now, &mut cost).await?;
                serde_json::to_vec(&PageView {
                    seeds: listed,
                    pnodes: page.nodes,
                    pagination: page.pagination,
                })?
            }
            None => {
                let _permit = state.full_views.enter().await?;
                let selection = view::select(db, &query).await?;
                let mut nodes = Vec::with_capacity(selection.ids.len());
                for chunk in selection.ids.chunks(CHUNK) {
                    nodes.extend(view::load(db, chunk, now, &query.scope).await?);
                }
                serde_json::to_vec(&FullView {
                    seeds: listed,
                    global_pnodes: nodes,
                })?
            }
        };
        Ok::<_, ViewError>(Bytes::from(body))
    };
    // `creditDelta24h` moves with the clock.
    http::json_answer(&req, &state, what, true, true, answer).await
}

/// The seed's view when it has no kept answer: no node.
fn empty(seeds: Vec<crate::domain::seeds::Seed>, query: &PnodeQuery) -> HttpResponse {
    let body = match query.limit {
        Some(limit) => serde_json::to_value(PageView {
            seeds,
            pnodes: Vec::new(),
            pagination: view::model::Pagination {
                total: 0,
                limit,
                offset: query.offset,
                has_more: false,
            },
        }),
        None => serde_json::to_value(FullView {
            seeds,
            global_pnodes: Vec::new(),
        }),
    };
    HttpResponse::Ok().json(body.unwrap_or_default())
}

/// The id as given: a URL-encoded base URL may arrive with its `%2F`s still encoded.
fn decoded(id: &str) -> Result<String, InvalidParameter> {
    percent_encoding::percent_decode_str(id)
        .decode_utf8()
        .map(|id| id.into_owned())
        .map_err(|_| InvalidParameter::new("id", "must be UTF-8 once decoded"))
}
