//! A row of the view's details query (each node with its newest observation, its shown stats
//! sample and its credits, columns prefixed by table) and the node it makes.

use chrono::{DateTime, Utc};
use entity::{pnode, pnode_gossip_observation as observation, pnode_stats_sample as sample};
use sea_orm::{DbErr, DerivePartialModel, FromQueryResult, QueryResult};

use super::model::{GlobalPnode, LatestStats, ScoreParts, shown_score};

/// Aliases of the tables in the view's statements. In a details row each table's columns are
/// prefixed with its alias and `_` (see [`prefix`]).
pub(super) const NODE: &str = "p";
pub(super) const OBSERVATION: &str = "o";
pub(super) const SAMPLE: &str = "s";
/// Selected columns of the details row that come from no entity.
pub(super) const CREDITS_NOW: &str = "credits_now";
pub(super) const CREDITS_DAY_AGO: &str = "credits_day_ago";

/// The prefix of a table's columns in a details row.
pub(super) fn prefix(table: &str) -> String {
    format!("{table}_")
}

/// What the view reads of a node's own row: the details query selects exactly these columns
/// (`p_*`), by their entity's names, so a renamed column fails to compile here, not at run time.
#[derive(Debug, DerivePartialModel)]
#[sea_orm(entity = "pnode::Entity")]
pub(super) struct NodeColumns {
    id: i64,
    network: String,
    pubkey: String,
    reachable: bool,
    failure_count: i64,
    last_stats_attempt_at: Option<DateTime<Utc>>,
    last_stats_success_at: Option<DateTime<Utc>>,
    latest_credits: Option<i64>,
    credits_updated_at: Option<DateTime<Utc>>,
    score: Option<f64>,
    score_reachable: Option<f64>,
    score_stats_success: Option<f64>,
    score_version: Option<f64>,
    score_uptime: Option<f64>,
    score_seeds: Option<f64>,
    scored_at: Option<DateTime<Utc>>,
}

impl NodeColumns {
    /// The score's parts, when the node has been scored.
    fn score_parts(&self) -> Option<ScoreParts> {
        Some(ScoreParts {
            reachable: self.score_reachable?,
            stats_success_24h: self.score_stats_success?,
            version_currency: self.score_version?,
            uptime: self.score_uptime?,
            seed_visibility: self.score_seeds?,
            scored_at: self.scored_at?,
        })
    }
}

/// What the view reads of a node's newest gossip observation (`o_*`).
#[derive(Debug, DerivePartialModel)]
#[sea_orm(entity = "observation::Entity")]
pub(super) struct ObservationColumns {
    #[expect(dead_code, reason = "selected so that `joined` can tell a missing row")]
    id: i64,
    address: String,
    version: Option<String>,
    last_seen_timestamp: Option<i64>,
    observed_at: DateTime<Utc>,
    is_public: Option<bool>,
    storage_committed: Option<i64>,
    storage_used: Option<i64>,
    storage_usage_percent: Option<f64>,
}

/// What the view reads of a node's shown stats sample (`s_*`).
#[derive(Debug, DerivePartialModel)]
#[sea_orm(entity = "sample::Entity")]
pub(super) struct SampleColumns {
    #[expect(dead_code, reason = "selected so that `joined` can tell a missing row")]
    id: i64,
    sampled_at: DateTime<Utc>,
    cpu_percent: Option<f64>,
    ram_used_bytes: Option<i64>,
    ram_total_bytes: Option<i64>,
    uptime_seconds: Option<i64>,
    packets_in_per_sec: Option<f64>,
    packets_out_per_sec: Option<f64>,
    total_bytes: Option<i64>,
    active_streams: Option<i64>,
    bytes_per_second: Option<f64>,
}

/// One row of the details query (see `super::sql::details`).
#[derive(Debug)]
pub(super) struct Details {
    node: NodeColumns,
    observation: Option<ObservationColumns>,
    sample: Option<SampleColumns>,
    credits_now: Option<i64>,
    credits_day_ago: Option<i64>,
}

impl Details {
    pub(super) fn from_row(row: &QueryResult) -> Result<Self, DbErr> {
        Ok(Self {
            node: NodeColumns::from_query_result(row, &prefix(NODE))?,
            observation: joined(row, OBSERVATION)?,
            sample: joined(row, SAMPLE)?,
            credits_now: row.try_get("", CREDITS_NOW)?,
            credits_day_ago: row.try_get("", CREDITS_DAY_AGO)?,
        })
    }

    pub(super) fn id(&self) -> i64 {
        self.node.id
    }

    pub(super) fn into_pnode(self, seed_base_urls_seen: Vec<String>) -> GlobalPnode {
        let Self {
            node,
            observation,
            sample,
            credits_now,
            credits_day_ago,
        } = self;
        let latest_stats = sample.map(|s| LatestStats {
            timestamp: s.sampled_at,
            cpu_percent: s.cpu_percent,
            ram_used_bytes: s.ram_used_bytes,
            ram_total_bytes: s.ram_total_bytes,
            uptime_seconds: s.uptime_seconds,
            packets_in_per_sec: s.packets_in_per_sec,
            packets_out_per_sec: s.packets_out_per_sec,
            total_bytes: s.total_bytes,
            active_streams: s.active_streams,
            bytes_per_second: s.bytes_per_second,
        });
        let score_parts = node.score_parts();
        GlobalPnode {
            score: score_parts.as_ref().and(node.score).map(shown_score),
            score_parts,
            id: node.id,
            network: node.network,
            pubkey: node.pubkey,
            reachable: node.reachable,
            failure_count: node.failure_count,
            last_stats_attempt_at: node.last_stats_attempt_at,
            last_stats_success_at: node.last_stats_success_at,
            gossip_last_seen: observation.as_ref().and_then(|o| {
                o.last_seen_timestamp
                    .and_then(unix_seconds)
                    .or(Some(o.observed_at))
            }),
            latest_address: observation.as_ref().map(|o| o.address.clone()),
            latest_version: observation.as_ref().and_then(|o| o.version.clone()),
            seeds_seen_count: seed_base_urls_seen.len(),
            seed_base_urls_seen,
            latest_stats,
            latest_credits: node.latest_credits,
            credits_updated_at: node.credits_updated_at,
            credit_delta_24h: credits_now
                .zip(credits_day_ago)
                .map(|(now, then)| now.saturating_sub(then)),
            is_public: observation
                .as_ref()
                .and_then(|o| o.is_public)
                .unwrap_or(false),
            storage_committed: observation.as_ref().and_then(|o| o.storage_committed),
            storage_used: observation.as_ref().and_then(|o| o.storage_used),
            storage_usage_percent: observation.as_ref().and_then(|o| o.storage_usage_percent),
        }
    }
}

/// The columns of a LEFT-joined table, `None` when the join found no row (its id is null). A
/// column that is missing or of the wrong type is an error, never a silent `None`.
fn joined<M: FromQueryResult>(row: &QueryResult, table: &str) -> Result<Option<M>, DbErr> {
    let prefix = prefix(table);
    let id: Option<i64> = row.try_get(&prefix, "id")?;
    id.map(|_| M::from_query_result(row, &prefix)).transpose()
}

/// A reported `last_seen_timestamp` as a time. Some clients send milliseconds (anything past
/// 1e12 cannot be seconds); 0 means "never".
fn unix_seconds(value: i64) -> Option<DateTime<Utc>> {
    let seconds = if value > 1_000_000_000_000 {
        value / 1000
    } else {
        value
    };
    (seconds > 0)
        .then(|| DateTime::from_timestamp(seconds, 0))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_seen_accepts_seconds_and_milliseconds_and_ignores_zero() {
        let expected = DateTime::from_timestamp(1_765_057_753, 0);
        assert_eq!(unix_seconds(1_765_057_753), expected);
        assert_eq!(unix_seconds(1_765_057_753_000), expected);
        assert_eq!(unix_seconds(0), None);
    }
}
