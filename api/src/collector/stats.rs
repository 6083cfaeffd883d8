//! `get-stats`, once per node per cycle: who is due, the calls (bounded in number at once and in
//! time), and what they leave behind — a sample with rates from the previous one, and the node's
//! reachability and backoff.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use entity::{pnode, pnode_stats_sample as sample};
use futures_util::{StreamExt, stream};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, FromQueryResult,
    QueryFilter, Statement, TransactionSession, TransactionTrait, sea_query::Expr,
};

use crate::prpc::{NodeStats, PrpcClient};

/// Without a reported `rpc_port`, a node answers pRPC on the default port.
const DEFAULT_RPC_PORT: u16 = 6000;
/// Rates need this much time between samples to mean anything.
const MIN_RATE_GAP_SECONDS: f64 = 5.0;

/// A node to ask, and where.
#[derive(Debug, Clone)]
pub struct Target {
    pub pnode_id: i64,
    /// `http://ip:rpc_port`.
    pub url: String,
}

/// Builds the pRPC URL of a node from its gossip address and advertised port.
pub fn rpc_url(address: &str, rpc_port: Option<u16>) -> Option<String> {
    let (host, _gossip_port) = address.rsplit_once(':')?;
    (!host.is_empty()).then(|| format!("http://{host}:{}", rpc_port.unwrap_or(DEFAULT_RPC_PORT)))
}

/// How long a node that failed `failures` times in a row is left alone: 60 s · 2^min(failures, 5).
pub fn backoff(failures: i64) -> Duration {
    Duration::seconds(60 << failures.clamp(0, 5))
}

/// The outcome of polling one node.
#[derive(Debug)]
pub struct Polled {
    pub pnode_id: i64,
    pub stats: Option<NodeStats>,
}

/// Of `targets`, the ids whose backoff has not run out at `now`.
pub async fn in_backoff(
    db: &impl ConnectionTrait,
    ids: &[i64],
    now: DateTime<Utc>,
) -> Result<Vec<i64>, DbErr> {
    let mut waiting = Vec::new();
    for chunk in ids.chunks(1000) {
        waiting.extend(
            pnode::Entity::find()
                .filter(pnode::Column::Id.is_in(chunk.iter().copied()))
                .filter(pnode::Column::NextStatsAllowedAt.gt(now))
                .all(db)
                .await?
                .into_iter()
                .map(|node| node.id),
        );
    }
    Ok(waiting)
}

/// Calls every target, `concurrency` at a time, until `deadline`: targets not answered by then
/// are left out of the result (not counted as attempts).
pub async fn poll(
    client: &PrpcClient,
    targets: Vec<Target>,
    concurrency: usize,
    deadline: tokio::time::Instant,
) -> Vec<Polled> {
    let mut calls = stream::iter(targets)
        .map(|target| async move {
            let stats = client.stats(&target.url).await.ok();
            Polled {
                pnode_id: target.pnode_id,
                stats,
            }
        })
        .buffer_unordered(concurrency.max(1));
    let mut polled = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline, calls.next()).await {
            Ok(Some(outcome)) => polled.push(outcome),
            Ok(None) => break,
            Err(_) => {
                tracing::warn!(
                    answered = polled.len(),
                    "stats polling hit the cycle deadline"
                );
                break;
            }
        }
    }
    polled
}

#[derive(Debug, FromQueryResult)]
struct Previous {
    pnode_id: i64,
    sampled_at: DateTime<Utc>,
    packets_received: Option<i64>,
    packets_sent: Option<i64>,
    total_bytes: Option<i64>,
}

/// Writes the samples and the nodes' new state, in one transaction.
pub async fn record<C>(db: &C, polled: &[Polled], now: DateTime<Utc>) -> Result<(), DbErr>
where
    C: ConnectionTrait + TransactionTrait,
{
    let answered: Vec<i64> = polled
        .iter()
        .filter(|p| p.stats.is_some())
        .map(|p| p.pnode_id)
        .collect();
    let failed: Vec<i64> = polled
        .iter()
        .filter(|p| p.stats.is_none())
        .map(|p| p.pnode_id)
        .collect();
    let txn = db.begin().await?;

    let mut previous = HashMap::new();
    for chunk in answered.chunks(1000) {
        let statement = newest_samples(txn.get_database_backend(), chunk);
        for row in Previous::find_by_statement(statement).all(&txn).await? {
            previous.insert(row.pnode_id, row);
        }
    }
    let samples: Vec<_> = polled
        .iter()
        .filter_map(|p| {
            Some(sample_row(
                p.pnode_id,
                p.stats.as_ref()?,
                previous.get(&p.pnode_id),
                now,
            ))
        })
        .collect();
    for chunk in samples.chunks(1000) {
        sample::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&txn)
            .await?;
    }

    for chunk in answered.chunks(1000) {
        pnode::Entity::update_many()
            .col_expr(pnode::Column::Reachable, Expr::value(true))
            .col_expr(pnode::Column::FailureCount, Expr::value(0_i64))
            .col_expr(pnode::Column::LastStatsAttemptAt, Expr::value(now))
            .col_expr(pnode::Column::LastStatsSuccessAt, Expr::value(now))
            .col_expr(
                pnode::Column::NextStatsAllowedAt,
                Expr::value(now + backoff(0)),
            )
            .col_expr(pnode::Column::UpdatedAt, Expr::value(now))
            .filter(pnode::Column::Id.is_in(chunk.iter().copied()))
            .exec(&txn)
            .await?;
    }
    // The backoff depends on each node's count of failures: one statement per count (at most 6
    // distinct waits), not one per node.
    let mut by_failures: HashMap<i64, Vec<i64>> = HashMap::new();
    for chunk in failed.chunks(1000) {
        for node in pnode::Entity::find()
            .filter(pnode::Column::Id.is_in(chunk.iter().copied()))
            .all(&txn)
            .await?
        {
            by_failures
                .entry(node.failure_count.saturating_add(1))
                .or_default()
                .push(node.id);
        }
    }
    for (failures, ids) in by_failures {
        for chunk in ids.chunks(1000) {
            pnode::Entity::update_many()
                .col_expr(pnode::Column::Reachable, Expr::value(false))
                .col_expr(pnode::Column::FailureCount, Expr::value(failures))
                .col_expr(pnode::Column::LastStatsAttemptAt, Expr::value(now))
                .col_expr(
                    pnode::Column::NextStatsAllowedAt,
                    Expr::value(now + backoff(failures)),
                )
                .col_expr(pnode::Column::UpdatedAt, Expr::value(now))
                .filter(pnode::Column::Id.is_in(chunk.iter().copied()))
                .exec(&txn)
                .await?;
        }
    }
    txn.commit().await
}

/// The newest sample of each node of `ids`, picked by index (as in the view's SQL).
fn newest_samples(backend: DbBackend, ids: &[i64]) -> Statement {
    let list = ids
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let sql = match backend {
        DbBackend::Postgres => format!(
            "SELECT l.pnode_id, l.sampled_at, l.packets_received, l.packets_sent, l.total_bytes
             FROM pnodes p CROSS JOIN LATERAL (
                 SELECT * FROM pnode_stats_samples s WHERE s.pnode_id = p.id
                 ORDER BY s.sampled_at DESC, s.id DESC LIMIT 1) l
             WHERE p.id IN ({list})"
        ),
        _ => format!(
            "SELECT s.pnode_id, s.sampled_at, s.packets_received, s.packets_sent, s.total_bytes
             FROM pnodes p JOIN pnode_stats_samples s ON s.id = (
                 SELECT s2.id FROM pnode_stats_samples s2 WHERE s2.pnode_id = p.id
                 ORDER BY s2.sampled_at DESC, s2.id DESC LIMIT 1)
             WHERE p.id IN ({list})"
        ),
    };
    Statement::from_string(backend, sql)
}

fn sample_row(
    pnode_id: i64,
    stats: &NodeStats,
    previous: Option<&Previous>,
    now: DateTime<Utc>,
) -> sample::ActiveModel {
    let wide = |v: Option<u64>| v.and_then(|v| i64::try_from(v).ok());
    let (received, sent, total) = (
        wide(stats.packets_received),
        wide(stats.packets_sent),
        wide(stats.total_bytes),
    );
    let gap = previous
        .map(|p| (now - p.sampled_at).num_milliseconds() as f64 / 1000.0)
        .filter(|gap| *gap > MIN_RATE_GAP_SECONDS);
    // A counter that went backwards was reset by a restart: no rate across it.
    let delta = |current: Option<i64>, before: Option<i64>| match (current, before, gap) {
        (Some(current), Some(before), Some(_)) if current >= before => Some(current - before),
        _ => None,
    };
    let rate = |delta: Option<i64>| Some(delta? as f64 / gap?);
    let delta_bytes = delta(total, previous.and_then(|p| p.total_bytes));
    sample::ActiveModel {
        pnode_id: Set(pnode_id),
        seed_base_url: Set(None),
        sampled_at: Set(now),
        cpu_percent: Set(stats.cpu_percent),
        ram_used_bytes: Set(wide(stats.ram_used)),
        ram_total_bytes: Set(wide(stats.ram_total)),
        uptime_seconds: Set(wide(stats.uptime)),
        packets_received: Set(received),
        packets_sent: Set(sent),
        packets_in_per_sec: Set(rate(delta(
            received,
            previous.and_then(|p| p.packets_received),
        ))),
        packets_out_per_sec: Set(rate(delta(sent, previous.and_then(|p| p.packets_sent)))),
        total_bytes: Set(total),
        active_streams: Set(wide(stats.active_streams)),
        delta_bytes: Set(delta_bytes),
        delta_seconds: Set(delta_bytes.and(gap)),
        bytes_per_second: Set(rate(delta_bytes)),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_from_a_minute_up_to_32_minutes() {
        let waits: Vec<i64> = (0..=7).map(|f| backoff(f).num_seconds()).collect();
        assert_eq!(waits, [60, 120, 240, 480, 960, 1920, 1920, 1920]);
    }

    #[test]
    fn the_rpc_url_uses_the_gossip_host_and_the_rpc_port() {
        assert_eq!(
            rpc_url("62.84.180.240:9001", Some(6001)).as_deref(),
            Some("http://62.84.180.240:6001")
        );
        assert_eq!(
            rpc_url("62.84.180.240:9001", None).as_deref(),
            Some("http://62.84.180.240:6000")
        );
        assert_eq!(
            rpc_url("[::1]:9001", None).as_deref(),
            Some("http://[::1]:6000")
        );
        assert_eq!(rpc_url("no-port", None), None);
    }

    fn previous(seconds_ago: i64, counters: i64, now: DateTime<Utc>) -> Previous {
        Previous {
            pnode_id: 1,
            sampled_at: now - Duration::seconds(seconds_ago),
            packets_received: Some(counters),
            packets_sent: Some(counters),
            total_bytes: Some(counters),
        }
    }

    fn stats(counters: u64) -> NodeStats {
        NodeStats {
            packets_received: Some(counters),
            packets_sent: Some(counters),
            total_bytes: Some(counters),
            ..NodeStats::default()
        }
    }

    #[test]
    fn rates_come_from_the_previous_sample() {
        let now = Utc::now();
        let row = sample_row(1, &stats(1600), Some(&previous(10, 1000, now)), now);
        assert_eq!(row.bytes_per_second, Set(Some(60.0)));
        assert_eq!(row.packets_in_per_sec, Set(Some(60.0)));
        assert_eq!(row.delta_bytes, Set(Some(600)));
        assert_eq!(row.delta_seconds, Set(Some(10.0)));
    }

    #[test]
    fn no_rate_across_a_reset_a_short_gap_or_without_a_previous_sample() {
        let now = Utc::now();
        for (row, why) in [
            (
                sample_row(1, &stats(10), Some(&previous(10, 1000, now)), now),
                "reset",
            ),
            (
                sample_row(1, &stats(1600), Some(&previous(3, 1000, now)), now),
                "gap under 5 s",
            ),
            (sample_row(1, &stats(1600), None, now), "first sample"),
        ] {
            assert_eq!(row.bytes_per_second, Set(None), "{why}");
            assert_eq!(row.packets_out_per_sec, Set(None), "{why}");
        }
    }
}
