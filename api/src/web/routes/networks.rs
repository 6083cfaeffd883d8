//! `GET /api/networks`, and the `network=` parameter the other endpoints share: one name or a
//! comma list of the networks this service knows (unknown names are a 400 naming `network`).

use actix_web::{HttpRequest, HttpResponse, get, web, web::Bytes};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::{
    domain::{
        network::{self, Network},
        params::InvalidParameter,
    },
    history::networks::{NetworksBody, networks},
    web::{answer::Answer, error::Result, state::AppState},
};

/// The networks an aggregate covers.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct RawNetworks {
    /// Only these networks: one name or a comma list (default: every network). A name this
    /// service does not know is a 400.
    #[param(
        example = "mainnet",
        max_length = 200,
        pattern = r"^[a-z][a-z0-9-]{0,31}( *, *[a-z][a-z0-9-]{0,31})*$"
    )]
    pub network: Option<String>,
}

impl RawNetworks {
    /// The networks named, sorted; `None` for every one.
    pub(crate) fn selected(
        &self,
        state: &AppState,
    ) -> Result<Option<Vec<Network>>, InvalidParameter> {
        network::selection(self.network.as_deref(), &state.networks)
    }

    /// The networks named, or every network this service knows.
    pub(crate) fn or_all(&self, state: &AppState) -> Result<Vec<Network>, InvalidParameter> {
        Ok(self
            .selected(state)?
            .unwrap_or_else(|| state.networks.clone()))
    }
}

/// The network one node is on, for endpoints about one pubkey.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct RawNetwork {
    /// The network of the node: needed only when the pubkey is a node on several networks
    /// (without it, that is a 409 listing them).
    #[param(
        example = "mainnet",
        max_length = 32,
        pattern = r"^[a-z][a-z0-9-]{0,31}$"
    )]
    pub network: Option<String>,
}

impl RawNetwork {
    /// The one network named, if any.
    pub(crate) fn named(&self, state: &AppState) -> Result<Option<Network>, InvalidParameter> {
        match network::selection(self.network.as_deref(), &state.networks)? {
            None => Ok(None),
            Some(mut names) if names.len() == 1 => Ok(names.pop()),
            Some(_) => Err(InvalidParameter::new(
                "network",
                "must name one network for one node",
            )),
        }
    }
}

/// Each network this service knows: its seeds (configured, and healthy in its newest finished
/// cycle), its nodes (all, reported in that cycle, reachable), its credits source and the newest
/// credits it stored, and its newest finished cycle.
#[utoipa::path(
    tag = "network",
    operation_id = "listNetworks",
    responses(
        (status = 200, description = "Every network, by name", body = NetworksBody,
            headers(("ETag" = String, description = "Strong validator of this answer"))),
        (status = 304, description = "`If-None-Match` names the current answer"),
    )
)]
#[get(
    "/api/networks",
    wrap = "actix_web::middleware::from_fn(crate::web::outage::fail_fast)"
)]
pub(crate) async fn list(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse> {
    let answer = async {
        let body = networks(
            state.db.conn(),
            &state.seeds,
            &state.networks,
            &state.credits,
        )
        .await?;
        Ok(Bytes::from(serde_json::to_vec(&body)?))
    };
    Answer::json("/api/networks")
        .serve(&req, &state, answer)
        .await
}
