//! The nodes ranked by one figure of their `pnodes` row: the health score, the newest uptime,
//! credits or committed storage. One statement, `ORDER BY figure DESC, id LIMIT n`; nodes without
//! the figure are not ranked.

use entity::pnode;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait,
    sea_query::{Expr, Func},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{
    domain::{
        network::{self, Network},
        params::{self, InvalidParameter},
        score::{self, Weights},
    },
    view::model::shown_score,
};

/// Most nodes one leaderboard lists.
pub(crate) const MAX_LIMIT: u64 = 100;
/// Nodes listed when `limit` is not given.
pub(crate) const DEFAULT_LIMIT: u64 = 10;

/// What to rank by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ToSchema)]
#[schema(rename_all = "lowercase")]
pub(crate) enum Metric {
    /// The health score (`score`).
    Score,
    /// The newest stats sample's uptime, in seconds, of nodes whose last get-stats call succeeded.
    Uptime,
    /// The newest credits.
    Credits,
    /// Bytes committed, from the newest gossip observation.
    Storage,
}

const METRICS: [(&str, Metric); 4] = [
    ("score", Metric::Score),
    ("uptime", Metric::Uptime),
    ("credits", Metric::Credits),
    ("storage", Metric::Storage),
];

impl Metric {
    fn name(self) -> &'static str {
        METRICS
            .iter()
            .find(|(_, metric)| *metric == self)
            .map_or("", |(name, _)| name)
    }

    fn column(self) -> pnode::Column {
        match self {
            Self::Score => pnode::Column::Score,
            Self::Uptime => pnode::Column::StatsUptimeSeconds,
            Self::Credits => pnode::Column::LatestCredits,
            Self::Storage => pnode::Column::GossipStorageCommitted,
        }
    }
}

/// The query string as it arrives.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct RawLeaderboardQuery {
    /// What to rank by (default `score`): `score`, `uptime` (newest stats sample, of nodes
    /// answering get-stats now), `credits` or `storage` (bytes committed).
    #[param(value_type = Option<Metric>)]
    pub metric: Option<String>,
    /// Nodes to list, 1 to 100 (default 10).
    #[param(value_type = Option<u64>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// Only nodes of these networks: one name or a comma list (default: every network, each
    /// node of each ranked). A name this service does not know is a 400.
    #[param(
        example = "mainnet",
        max_length = 200,
        pattern = r"^[a-z][a-z0-9-]{0,31}( *, *[a-z][a-z0-9-]{0,31})*$"
    )]
    pub network: Option<String>,
}

/// A validated leaderboard request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LeaderboardQuery {
    pub metric: Metric,
    pub limit: u64,
    /// `None`: every network.
    pub networks: Option<Vec<Network>>,
}

impl LeaderboardQuery {
    /// The request `raw` asks for, its networks among `known`.
    pub(crate) fn parse(
        raw: RawLeaderboardQuery,
        known: &[Network],
    ) -> Result<Self, InvalidParameter> {
        Ok(Self {
            networks: network::selection(raw.network.as_deref(), known)?,
            metric: raw
                .metric
                .map(|v| params::one_of("metric", &v, &METRICS))
                .transpose()?
                .unwrap_or(Metric::Score),
            limit: raw
                .limit
                .map(|v| params::integer("limit", &v, 1, MAX_LIMIT))
                .transpose()?
                .unwrap_or(DEFAULT_LIMIT),
        })
    }

    /// The request in one canonical text (a cache key: every part comes from a closed set).
    pub(crate) fn canonical(&self) -> String {
        format!(
            "metric={}&limit={}&network={:?}",
            self.metric.name(),
            self.limit,
            self.networks
        )
    }
}

/// `GET /api/leaderboard`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Leaderboard {
    #[schema(value_type = Metric)]
    pub metric: &'static str,
    /// The score's weights, in points (they add up to 100).
    pub weights: Weights,
    /// Highest first; ties by id. Nodes without the figure are not listed.
    pub entries: Vec<Entry>,
}

/// One ranked node.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Entry {
    /// 1 for the first, then one more per entry.
    pub rank: u64,
    pub id: i64,
    pub pubkey: String,
    /// The network the node is on.
    #[schema(example = "mainnet")]
    pub network: String,
    /// The figure ranked by: the score (0-100), seconds, credits or bytes.
    pub value: f64,
    /// The node's health score, null until it has one.
    #[schema(required = true)]
    pub score: Option<f64>,
    pub reachable: bool,
    /// Version from the newest gossip observation.
    #[schema(required = true)]
    pub latest_version: Option<String>,
}

#[derive(Debug, FromQueryResult)]
struct Row {
    id: i64,
    network: String,
    pubkey: String,
    value: f64,
    score: Option<f64>,
    reachable: bool,
    gossip_version: Option<String>,
}

/// The leaderboard `query` asks for (one statement).
pub(crate) async fn rank(
    db: &impl ConnectionTrait,
    query: LeaderboardQuery,
) -> Result<Leaderboard, DbErr> {
    let figure = query.metric.column();
    let rows = pnode::Entity::find()
        .select_only()
        .columns([
            pnode::Column::Id,
            pnode::Column::Network,
            pnode::Column::Pubkey,
            pnode::Column::Score,
            pnode::Column::Reachable,
            pnode::Column::GossipVersion,
        ])
        // Every figure as a double: integers of up to 2^53 keep every digit.
        .column_as(
            Expr::expr(Func::cast_as(Expr::col(figure), "DOUBLE PRECISION")),
            "value",
        )
        .filter(figure.is_not_null())
        .apply_if(query.networks.as_ref(), |select, networks| {
            select.filter(
                pnode::Column::Network.is_in(networks.iter().map(|n| n.as_str().to_owned())),
            )
        })
        // An uptime is only what a node answering now says.
        .apply_if(
            (query.metric == Metric::Uptime).then_some(()),
            |select, ()| select.filter(pnode::Column::Reachable.eq(true)),
        )
        .order_by_desc(figure)
        .order_by_asc(pnode::Column::Id)
        .limit(query.limit)
        .into_model::<Row>()
        .all(db)
        .await?;
    Ok(Leaderboard {
        metric: query.metric.name(),
        weights: score::WEIGHTS,
        entries: rows
            .into_iter()
            .zip(1..)
            .map(|(row, rank)| Entry {
                rank,
                id: row.id,
                network: row.network,
                pubkey: row.pubkey,
                value: match query.metric {
                    Metric::Score => shown_score(row.value),
                    _ => row.value,
                },
                score: row.score.map(shown_score),
                reachable: row.reachable,
                latest_version: row.gossip_version,
            })
            .collect(),
    })
}
