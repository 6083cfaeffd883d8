//! `/api/networks`: each network's seeds, nodes, credits source and newest cycle. A few small
//! statements per network (there are a handful), each over an index or the nodes' own rows.

use chrono::{DateTime, Utc};
use entity::{ingestion_run_seed_stats as seed_stats, pnode};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect,
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::{network::Network, seeds::Seeds, timestamp};

/// `GET /api/networks`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NetworksBody {
    pub networks: Vec<NetworkStatus>,
}

/// One network.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NetworkStatus {
    #[schema(example = "mainnet")]
    pub name: String,
    pub seeds: SeedCounts,
    /// Its nodes (within retention).
    pub nodes: u64,
    /// Its nodes reported in its newest finished cycle.
    pub online: u64,
    /// Its nodes whose last get-stats call succeeded.
    pub reachable: u64,
    /// Its credits source; null when it has none.
    #[schema(required = true)]
    pub credits: Option<CreditsSource>,
    /// Its newest finished collection cycle; null before the first.
    #[schema(required = true)]
    pub newest_cycle: Option<NewestCycle>,
}

/// A network's seeds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SeedCounts {
    /// In this replica's `PNODE_SEEDS`.
    pub configured: u64,
    /// Those that answered in the network's newest finished cycle.
    pub healthy: u64,
}

/// A network's credits source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreditsSource {
    /// Its URL (without user info).
    #[schema(example = "https://podcredits.xandeum.network/api/mainnet-pod-credits")]
    pub url: String,
    /// When a refresh last changed the credits of one of the network's nodes (a refresh that
    /// changes nothing leaves it); null before the first.
    #[serde(serialize_with = "timestamp::serialize_option")]
    #[schema(value_type = Option<String>, format = DateTime, required = true)]
    pub last_change_at: Option<DateTime<Utc>>,
}

/// A network's newest finished cycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NewestCycle {
    pub id: i64,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub started_at: DateTime<Utc>,
    #[serde(serialize_with = "timestamp::serialize_option")]
    #[schema(value_type = Option<String>, format = DateTime, required = true)]
    pub finished_at: Option<DateTime<Utc>>,
    /// Distinct nodes its seeds reported.
    pub observed: i64,
}

/// Every network of `known` (the configured ones and the default), with the credits source of
/// each in `credits` (network, URL without user info).
pub(crate) async fn networks(
    db: &impl ConnectionTrait,
    configured: &Seeds,
    known: &[Network],
    credits: &[(Network, String)],
) -> Result<NetworksBody, DbErr> {
    let mut networks = Vec::with_capacity(known.len());
    for network in known {
        let name = network.as_str();
        let of_network = || pnode::Entity::find().filter(pnode::Column::Network.eq(name));
        let newest = super::status::newest_cycle(db, name).await?;
        let (online, healthy) = match &newest {
            Some(cycle) => {
                let online = of_network()
                    .filter(pnode::Column::GossipObservedAt.gte(cycle.started_at))
                    .count(db)
                    .await?;
                let healthy = seed_stats::Entity::find()
                    .filter(seed_stats::Column::IngestionRunId.eq(cycle.id))
                    .filter(seed_stats::Column::Error.is_null())
                    .count(db)
                    .await?;
                (online, healthy)
            }
            None => (0, 0),
        };
        let credits = match credits.iter().find(|(on, _)| on == network) {
            Some((_, url)) => {
                let newest: Option<Option<DateTime<Utc>>> = of_network()
                    .select_only()
                    .column_as(pnode::Column::CreditsUpdatedAt.max(), "at")
                    .into_tuple()
                    .one(db)
                    .await?;
                Some(CreditsSource {
                    url: url.clone(),
                    last_change_at: newest.flatten(),
                })
            }
            None => None,
        };
        networks.push(NetworkStatus {
            name: name.to_owned(),
            seeds: SeedCounts {
                configured: configured.of(network).len() as u64,
                healthy,
            },
            nodes: of_network().count(db).await?,
            online,
            reachable: of_network()
                .filter(pnode::Column::Reachable.eq(true))
                .count(db)
                .await?,
            credits,
            newest_cycle: newest.map(|cycle| NewestCycle {
                id: cycle.id,
                started_at: cycle.started_at,
                finished_at: cycle.finished_at,
                observed: cycle.observed,
            }),
        });
    }
    Ok(NetworksBody { networks })
}
