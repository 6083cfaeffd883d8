//! `GET /api/seeds` and `GET /api/seeds/{id}/pnodes`: the seeds, and the network as one of them
//! saw it in its newest answer.

use actix_web::{HttpRequest, HttpResponse, get, web, web::Bytes};

use crate::{
    domain::params::{self, InvalidParameter},
    history::seeds::{self, SeedsBody},
    view::{
        self,
        model::PnodesBody,
        query::{PnodeQuery, RawPnodeQuery, Scope},
    },
    web::{
        answer::{
            Answer,
            pnodes::{self as answers, Source},
        },
        error::{ApiError, ErrorBody, Result},
        routes::networks::RawNetworks,
        state::AppState,
    },
};

/// Each seed (those configured, then those the data names) with its part in the newest finished
/// cycle: when, nodes reported, error.
#[utoipa::path(
    tag = "seeds",
    operation_id = "listSeeds",
    params(RawNetworks),
    responses(
        (status = 200, description = "The seeds (of the networks named)", body = SeedsBody),
        (status = 304, description = "`If-None-Match` names the current answer"),
        (status = 400, description = "`network` names a network this service does not know", body = ErrorBody),
    )
)]
#[get(
    "/api/seeds",
    wrap = "actix_web::middleware::from_fn(crate::web::outage::fail_fast)"
)]
pub(crate) async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    networks: web::Query<RawNetworks>,
) -> Result<HttpResponse> {
    let networks = networks.selected(&state)?;
    let what = format!("/api/seeds?network={networks:?}");
    let answer = async {
        let seeds = seeds::seed_list(state.db.conn(), &state.seeds, networks.as_deref()).await?;
        Ok(Bytes::from(serde_json::to_vec(&seeds)?))
    };
    Answer::json(what).serve(&req, &state, answer).await
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
pub(crate) async fn pnodes(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    raw: web::Query<RawPnodeQuery>,
) -> Result<HttpResponse> {
    let mut query = PnodeQuery::parse(raw.into_inner(), &state.networks)?;
    let db = state.db.conn();
    let listed = view::seeds(db, &state.seeds).await?;
    let id = decoded(&id.into_inner())?;
    let seed = match id.parse::<usize>() {
        Ok(position) => listed.get(position.wrapping_sub(1)),
        Err(_) => listed
            .iter()
            .find(|seed| seed.base_url == id.trim_end_matches('/')),
    }
    .ok_or_else(|| ApiError::NotFound(format!("no seed has id {}", params::excerpt(&id))))?;
    let base_url = seed.base_url.clone();
    let (key, source) = match seeds::answered_at(db, &base_url).await? {
        Some(answered_at) => {
            query.scope = Scope::Seed {
                base_url,
                answered_at,
            };
            let key = format!("/api/seeds/pnodes?{}", query.canonical());
            (key, Source::Query(query))
        }
        // No kept answer: no node, in the shape asked for.
        None => {
            let key = format!("/api/seeds/pnodes?none={base_url:?}&{}", query.canonical());
            (key, Source::Nothing(query))
        }
    };
    answers::respond(&req, &state, Answer::json(key), source, Some(listed)).await
}

/// The id as given: a URL-encoded base URL may arrive with its `%2F`s still encoded.
fn decoded(id: &str) -> Result<String, InvalidParameter> {
    percent_encoding::percent_decode_str(id)
        .decode_utf8()
        .map(|id| id.into_owned())
        .map_err(|_| InvalidParameter::new("id", "must be UTF-8 once decoded"))
}
