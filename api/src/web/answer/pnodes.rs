//! The `/api/pnodes` body, built in one place for every route that serves it: the network's view
//! (`/api/pnodes`) and one seed's (`/api/seeds/{id}/pnodes`), a page or every node, JSON or CSV.
//!
//! - JSON of the network, with the view cache on: cut from the node table (every node encoded
//!   once per data version), in any order, without touching the database.
//! - JSON otherwise: read from the database, a page in one go, every node a chunk at a time;
//!   kept in the cache as one body when it is on, streamed and compressed on the way out when not.
//! - CSV: always from the database (the cache holds JSON), streamed a chunk at a time.
//!
//! Every full view is computed under the full views' bound.

use actix_web::{HttpRequest, HttpResponse, body::SizedStream, web::Bytes};
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt as _, TryStreamExt as _, stream};

use super::{Answer, Check, Fresh, Media, Validity};
use crate::{
    domain::{network::Network, seeds::Seed},
    view::{
        self, Selection, ViewError,
        cost::RequestCost,
        model::{PageView, Pagination},
        query::{PnodeQuery, Scope},
        stream as view_stream,
    },
    web::{cache::Answer as Cached, error::ApiError, export, http, state::AppState},
};

/// Which nodes a body lists.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    /// Those `query` selects, in its scope (the network, or one seed's newest answer).
    Query(PnodeQuery),
    /// None: a seed with no kept answer. The body still has the shape `query` asks for.
    Nothing(PnodeQuery),
}

impl Source {
    fn query(&self) -> &PnodeQuery {
        match self {
            Self::Query(query) | Self::Nothing(query) => query,
        }
    }
}

/// Answers `source` as `answer` declares (its key, its media type); see the module documentation.
/// `listed`: the seeds to list beside the nodes, when the caller has read them already.
pub(crate) async fn respond(
    req: &HttpRequest,
    state: &AppState,
    answer: Answer,
    source: Source,
    listed: Option<Vec<Seed>>,
) -> Result<HttpResponse, ApiError> {
    // `creditDelta24h` moves with the clock.
    let answer = answer.valid(Validity::DataAndClock);
    let fresh = match answer.check(req, state).await? {
        Check::Current(not_modified) => return Ok(not_modified),
        Check::Needed(fresh) => fresh,
    };
    if let Media::Csv { .. } = answer.media() {
        return csv(state, &answer, fresh, &source).await;
    }
    let network = matches!(
        source,
        Source::Query(PnodeQuery {
            scope: Scope::Network,
            ..
        })
    );
    let mut cost = RequestCost::start(&state.view_metrics, &state.memory);
    if network {
        let cut = from_table(req, state, &answer, &fresh, source.query(), &mut cost).await;
        if let Some(response) = cut {
            return response;
        }
    }
    if state.cache.is_enabled() {
        // Kept whole (one buffer per encoding), so that every copy in flight is one in memory.
        let body = async {
            let pieces = body(state, &source, listed, cost).await?;
            let pieces: Vec<Bytes> = pieces.try_collect().await?;
            Ok(Bytes::from(pieces.concat()))
        };
        return answer.cached(req, state, fresh, body).await;
    }
    let pieces = body(state, &source, listed, cost).await?;
    let response = answer
        .typed(fresh.validators.ok_to_compress())
        .streaming(pieces);
    Ok(answer.finish(response))
}

/// The network's JSON cut from the node table; `None` when the cache is off or the network is
/// too large for it.
async fn from_table(
    req: &HttpRequest,
    state: &AppState,
    answer: &Answer,
    fresh: &Fresh,
    query: &PnodeQuery,
    cost: &mut RequestCost,
) -> Option<Result<HttpResponse, ApiError>> {
    let encoding = http::negotiate(req);
    let stamp = fresh.freshness.stamp;
    let key = answer.key.clone();
    let db = state.db.conn();
    let cached =
        cost.statements().count(
            state
                .cache
                .pnodes(db, &state.seeds, stamp, query, key, encoding),
        );
    let response = match cached.await? {
        Ok(Cached::Pieces(pieces)) => {
            let length = pieces.iter().map(|piece| piece.len() as u64).sum();
            let pieces = stream::iter(pieces.into_iter().map(Ok::<_, ApiError>));
            Ok(fresh.validators.ok().body(SizedStream::new(length, pieces)))
        }
        Ok(Cached::Body(body)) => Ok(fresh.validators.ok().body(body)),
        Err(err) => Err(ApiError::from(err)),
    };
    Some(response.map(|response| answer.finish(response)))
}

/// The JSON body of `source` from the database: a page (one piece), or every node (a piece per
/// chunk, the next read while the current one is written, under the full views' bound).
async fn body(
    state: &AppState,
    source: &Source,
    listed: Option<Vec<Seed>>,
    mut cost: RequestCost,
) -> Result<impl Stream<Item = Result<Bytes, ViewError>> + use<>, ViewError> {
    let db = state.db.conn();
    let query = source.query();
    let now = Utc::now();
    let seeds = match listed {
        Some(seeds) => seeds,
        None => {
            cost.statements()
                .count(view::seeds(db, &state.seeds))
                .await?
        }
    };
    let permit = match query.limit {
        None => Some(state.full_views.enter().await?),
        Some(_) => None,
    };
    let selection = select(state, source, &mut cost).await?;
    let Some(limit) = query.limit else {
        let body = view_stream::body(
            db.clone(),
            &seeds,
            selection.ids,
            now,
            query.scope.clone(),
            cost,
        )
        // Held until the whole view is sent (or the client goes).
        .inspect(move |_| {
            let _held = &permit;
        });
        return Ok(body.left_stream());
    };
    let page = page(state, query, &seeds, selection, limit, now, &mut cost).await?;
    Ok(stream::once(async { Ok(page) }).right_stream())
}

/// The nodes `source` selects, in order, after its page (one statement; none for `Nothing`).
async fn select(
    state: &AppState,
    source: &Source,
    cost: &mut RequestCost,
) -> Result<Selection, ViewError> {
    let Source::Query(query) = source else {
        return Ok(Selection::default());
    };
    let selection = cost
        .statements()
        .count(view::select(state.db.conn(), query))
        .await?;
    cost.selected(selection.total);
    Ok(selection)
}

/// One page of `selection`, as JSON.
async fn page(
    state: &AppState,
    query: &PnodeQuery,
    seeds: &[Seed],
    selection: Selection,
    limit: u64,
    now: DateTime<Utc>,
    cost: &mut RequestCost,
) -> Result<Bytes, ViewError> {
    let db = state.db.conn();
    let nodes = cost
        .statements()
        .count(view::load(db, &selection.ids, now, &query.scope))
        .await?;
    cost.loaded(&nodes);
    let pagination = Pagination {
        total: selection.total,
        limit,
        offset: query.offset,
        has_more: query.offset.saturating_add(nodes.len() as u64) < selection.total,
    };
    let page = PageView {
        seeds: seeds.to_vec(),
        pnodes: nodes,
        pagination,
    };
    Ok(Bytes::from(serde_json::to_vec(&page)?))
}

/// The nodes of `source` as CSV, from the database, streamed.
async fn csv(
    state: &AppState,
    answer: &Answer,
    fresh: Fresh,
    source: &Source,
) -> Result<HttpResponse, ApiError> {
    let db = state.db.conn();
    let query = source.query();
    let mut cost = RequestCost::start(&state.view_metrics, &state.memory);
    // The whole network is a full view: computed under the same bound as the JSON one.
    let permit = match query.limit {
        None => Some(state.full_views.enter().await?),
        Some(_) => None,
    };
    let selection = select(state, source, &mut cost).await?;
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
    let response = answer
        .typed(fresh.validators.ok_to_compress())
        .insert_header((export::ROW_COUNT, rows.to_string()))
        .streaming(body);
    Ok(answer.finish(response))
}

/// `/api/pnodes/{pubkey}` (on `network`, when named): the node as JSON, cut from the node table
/// when the cache holds it, else read from the database; a 404 when no node has the pubkey, a
/// 409 when several have it and no network is named.
pub(crate) async fn respond_one(
    req: &HttpRequest,
    state: &AppState,
    pubkey: &str,
    network: Option<&Network>,
) -> Result<HttpResponse, ApiError> {
    let network = network.map(Network::as_str);
    // `creditDelta24h` moves with the clock.
    let answer = Answer::json(format!("/api/pnodes/{pubkey}?network={network:?}"))
        .valid(Validity::DataAndClock)
        .of_something_that_may_not_exist();
    let fresh = match answer.check(req, state).await? {
        Check::Current(not_modified) => return Ok(not_modified),
        Check::Needed(fresh) => fresh,
    };
    let db = state.db.conn();
    let mut cost = RequestCost::start(&state.view_metrics, &state.memory);
    let stamp = fresh.freshness.stamp;
    let encoding = http::negotiate(req);
    let cached = cost.statements().count(state.cache.pnode(
        db,
        &state.seeds,
        stamp,
        (pubkey, network),
        answer.key.clone(),
        encoding,
    ));
    if let Some(node) = cached.await {
        let body = node?.found(pubkey)?;
        return Ok(fresh.validators.ok().body(body));
    }
    let found = cost
        .statements()
        .count(view::find(db, pubkey, network, Utc::now()))
        .await?;
    let node = found.found(pubkey)?;
    cost.loaded(std::slice::from_ref(&node));
    Ok(fresh.validators.ok_to_compress().json(node))
}
