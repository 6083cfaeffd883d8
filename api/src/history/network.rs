//! The network now (one statement over the nodes' own rows, which keep copies of their newest
//! observation and sample, so its cost is flat in the depth of history; aggregated here) and
//! cycle by cycle (downsampled in the database).

use std::{cmp::Ordering, collections::BTreeMap};

use chrono::{DateTime, Duration, Utc};
use entity::{ingestion_run as run, pnode};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, DerivePartialModel, EntityTrait, QueryFilter};
use serde::Serialize;
use utoipa::ToSchema;

use super::{
    model::{CycleBucket, NetworkCycles, NetworkHistory, WindowBody},
    sql,
    window::Window,
};
use crate::domain::{network::Network, timestamp};

/// How many credits leaders `/api/network` lists.
const TOP: usize = 10;

/// `GET /api/network`: the network now.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkSummary {
    /// Nodes known (within retention).
    pub nodes: u64,
    /// Nodes whose last get-stats call succeeded.
    pub reachable: u64,
    /// Nodes whose newest gossip observation says public.
    pub public: u64,
    /// Nodes the newest finished cycle observed.
    pub seen_in_last_cycle: u64,
    /// Nodes by the version of their newest observation, in numeric version order (unknown last).
    pub versions: Vec<VersionCount>,
    /// Storage over every node's newest observation.
    pub storage: Storage,
    /// Uptime that each node's newest stats sample reported; null without any.
    #[schema(required = true)]
    pub uptime_seconds: Option<Spread>,
    pub credits: Credits,
    /// Nodes first seen in the 24 hours before `at`.
    pub first_seen_last_24h: u64,
    /// Known nodes that no seed has reported in the 24 hours before `at`.
    pub gone_last_24h: u64,
    /// The newest finished collection cycle (of the networks covered); null before the first.
    #[schema(required = true)]
    pub last_cycle: Option<LastCycle>,
    /// When these figures were computed (the 24-hour windows end here).
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub at: DateTime<Utc>,
    /// In an entry of `networks`: its network.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "mainnet")]
    pub network: Option<String>,
    /// The same figures for each network covered, in name order (these cover them all; a node's
    /// cycle is its own network's); empty in an entry.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(no_recursion)]
    pub networks: Vec<NetworkSummary>,
}

/// How many nodes run one version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VersionCount {
    /// Null: no version reported.
    #[schema(required = true)]
    pub version: Option<String>,
    pub nodes: u64,
}

/// Bytes committed and used, summed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Storage {
    pub committed_bytes: i64,
    pub used_bytes: i64,
}

/// The middle and the 90th percentile (nearest rank) of some values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Spread {
    pub median: i64,
    pub p90: i64,
}

/// Credits over the nodes that have them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Credits {
    pub total: i64,
    /// Null when no node has credits.
    #[schema(required = true)]
    pub median: Option<i64>,
    #[schema(required = true)]
    pub p90: Option<i64>,
    /// The 10 nodes with the most credits, most first (ties by pubkey).
    pub top: Vec<CreditsLeader>,
}

/// A node among the credits leaders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreditsLeader {
    pub pubkey: String,
    /// The network the node is on.
    #[schema(example = "mainnet")]
    pub network: String,
    pub credits: i64,
}

/// The newest finished collection cycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LastCycle {
    pub id: i64,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub started_at: DateTime<Utc>,
    #[serde(serialize_with = "timestamp::serialize_option")]
    #[schema(value_type = Option<String>, format = DateTime, required = true)]
    pub finished_at: Option<DateTime<Utc>>,
    pub observed: i64,
    pub reachable: i64,
    pub public: i64,
    pub stats_attempted: i64,
    pub stats_succeeded: i64,
}

/// One node's figures that the summary reads: all on its own row (the collector keeps copies
/// of its newest observation and sample there), so the summary reads one row per node, whatever
/// the depth of history.
#[derive(Debug, DerivePartialModel)]
#[sea_orm(entity = "pnode::Entity")]
struct NodeRow {
    network: String,
    pubkey: String,
    reachable: bool,
    latest_credits: Option<i64>,
    created_at: DateTime<Utc>,
    gossip_version: Option<String>,
    gossip_is_public: Option<bool>,
    gossip_storage_committed: Option<i64>,
    gossip_storage_used: Option<i64>,
    gossip_observed_at: Option<DateTime<Utc>>,
    stats_uptime_seconds: Option<i64>,
}

/// `networks` now, as of `now`, all together and each on its own (a statement per network for
/// its newest cycle, and one for every node's row).
pub async fn network_summary(
    db: &impl ConnectionTrait,
    networks: &[Network],
    now: DateTime<Utc>,
) -> Result<NetworkSummary, DbErr> {
    let mut newest = Vec::with_capacity(networks.len());
    for network in networks {
        let last = super::status::newest_cycle(db, network.as_str()).await?;
        newest.extend(last);
    }
    let nodes = pnode::Entity::find()
        .filter(pnode::Column::Network.is_in(networks.iter().map(|n| n.as_str().to_owned())))
        .into_partial_model::<NodeRow>()
        .all(db)
        .await?;
    let mut summary = summarize(&nodes, &newest, now);
    for network in networks {
        let name = network.as_str();
        let of_network: Vec<&NodeRow> = nodes.iter().filter(|n| n.network == name).collect();
        let cycle: Vec<run::Model> = newest
            .iter()
            .filter(|r| r.network == name)
            .cloned()
            .collect();
        let mut one = summarize(&of_network, &cycle, now);
        one.network = Some(name.to_owned());
        summary.networks.push(one);
    }
    Ok(summary)
}

/// The figures of `nodes`, each of whose newest cycle is its network's in `newest` (the newest
/// finished run of each network).
fn summarize<N: std::borrow::Borrow<NodeRow>>(
    nodes: &[N],
    newest: &[run::Model],
    now: DateTime<Utc>,
) -> NetworkSummary {
    let nodes: Vec<&NodeRow> = nodes.iter().map(std::borrow::Borrow::borrow).collect();
    let count = |keep: &dyn Fn(&NodeRow) -> bool| nodes.iter().filter(|n| keep(n)).count() as u64;
    let day_ago = now - Duration::hours(24);
    // Observations of a cycle carry its start as their time.
    let seen_in_last_cycle = count(&|n| {
        newest.iter().any(|cycle| {
            cycle.network == n.network
                && n.gossip_observed_at
                    .is_some_and(|at| at >= cycle.started_at)
        })
    });
    let last = newest
        .iter()
        .max_by_key(|cycle| (cycle.finished_at, cycle.id))
        .cloned();
    let nodes = &nodes[..];
    let uptimes: Vec<i64> = nodes
        .iter()
        .filter_map(|n| n.stats_uptime_seconds)
        .collect();
    NetworkSummary {
        nodes: nodes.len() as u64,
        reachable: count(&|n| n.reachable),
        public: count(&|n| n.gossip_is_public.unwrap_or(false)),
        seen_in_last_cycle,
        versions: versions(nodes),
        storage: Storage {
            committed_bytes: nodes
                .iter()
                .filter_map(|n| n.gossip_storage_committed)
                .fold(0, i64::saturating_add),
            used_bytes: nodes
                .iter()
                .filter_map(|n| n.gossip_storage_used)
                .fold(0, i64::saturating_add),
        },
        uptime_seconds: spread(uptimes),
        credits: credits(nodes),
        first_seen_last_24h: count(&|n| n.created_at >= day_ago),
        gone_last_24h: count(&|n| n.gossip_observed_at.is_none_or(|at| at < day_ago)),
        last_cycle: last.map(|run| LastCycle {
            id: run.id,
            started_at: run.started_at,
            finished_at: run.finished_at,
            observed: run.observed,
            reachable: run.reachable,
            public: run.public,
            stats_attempted: run.attempted,
            stats_succeeded: run.success,
        }),
        at: now,
        network: None,
        networks: Vec::new(),
    }
}

/// How many nodes run each version, in numeric order of the versions (no version last).
fn versions(nodes: &[&NodeRow]) -> Vec<VersionCount> {
    let mut versions: BTreeMap<Option<String>, u64> = BTreeMap::new();
    for node in nodes {
        *versions.entry(node.gossip_version.clone()).or_default() += 1;
    }
    let mut versions: Vec<VersionCount> = versions
        .into_iter()
        .map(|(version, nodes)| VersionCount { version, nodes })
        .collect();
    versions.sort_by(|a, b| match (&a.version, &b.version) {
        (Some(x), Some(y)) => crate::domain::version::compare(x, y),
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
    });
    versions
}

/// The credits of the nodes that have some: total, median, p90 and the top ones.
fn credits(nodes: &[&NodeRow]) -> Credits {
    let mut leaders: Vec<&NodeRow> = nodes
        .iter()
        .copied()
        .filter(|n| n.latest_credits.is_some())
        .collect();
    leaders.sort_by(|a, b| {
        b.latest_credits
            .cmp(&a.latest_credits)
            .then_with(|| a.pubkey.cmp(&b.pubkey))
    });
    let credits: Vec<i64> = leaders.iter().filter_map(|n| n.latest_credits).collect();
    Credits {
        total: credits.iter().fold(0, |sum, c| sum.saturating_add(*c)),
        median: percentile(&sorted(credits.clone()), 0.5),
        p90: percentile(&sorted(credits), 0.9),
        top: leaders
            .iter()
            .take(TOP)
            .filter_map(|n| {
                Some(CreditsLeader {
                    pubkey: n.pubkey.clone(),
                    network: n.network.clone(),
                    credits: n.latest_credits?,
                })
            })
            .collect(),
    }
}

fn sorted(mut values: Vec<i64>) -> Vec<i64> {
    values.sort_unstable();
    values
}

/// The nearest-rank percentile `p` (0 to 1) of sorted `values`.
fn percentile(values: &[i64], p: f64) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    let rank = ((p * values.len() as f64).ceil() as usize).clamp(1, values.len());
    Some(values[rank - 1])
}

fn spread(values: Vec<i64>) -> Option<Spread> {
    let values = sorted(values);
    Some(Spread {
        median: percentile(&values, 0.5)?,
        p90: percentile(&values, 0.9)?,
    })
}

/// `networks` cycle by cycle in `window`, together and each on its own (one statement each).
pub async fn network_history(
    db: &impl ConnectionTrait,
    networks: &[Network],
    window: &Window,
) -> Result<NetworkHistory, DbErr> {
    let names: Vec<&str> = networks.iter().map(Network::as_str).collect();
    let cycles = cycle_buckets(db, window, &names).await?;
    let mut each = Vec::with_capacity(names.len());
    for name in names {
        each.push(NetworkCycles {
            network: name.to_owned(),
            cycles: cycle_buckets(db, window, &[name]).await?,
        });
    }
    Ok(NetworkHistory {
        window: WindowBody::of(window),
        cycles,
        networks: each,
    })
}

/// The cycles of `networks` in `window`, by bucket.
async fn cycle_buckets(
    db: &impl ConnectionTrait,
    window: &Window,
    networks: &[&str],
) -> Result<Vec<CycleBucket>, DbErr> {
    let rows = db
        .query_all_raw(sql::cycle_buckets(
            db.get_database_backend(),
            window,
            networks,
        ))
        .await?;
    rows.iter()
        .map(|row| {
            Ok(CycleBucket {
                bucket_start: window.bucket_start(row.try_get("", sql::BUCKET)?),
                cycles: row.try_get("", "cycles")?,
                observed_avg: row.try_get("", "observed_avg")?,
                observed_max: row.try_get("", "observed_max")?,
                reachable_avg: row.try_get("", "reachable_avg")?,
                public_avg: row.try_get("", "public_avg")?,
                stats_attempted: row.try_get("", "stats_attempted")?,
                stats_succeeded: row.try_get("", "stats_succeeded")?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let values: Vec<i64> = (1..=10).collect();
        assert_eq!(percentile(&values, 0.5), Some(5));
        assert_eq!(percentile(&values, 0.9), Some(9));
        assert_eq!(percentile(&[7], 0.9), Some(7));
        assert_eq!(percentile(&[], 0.5), None);
    }
}
