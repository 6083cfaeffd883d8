//! Stats samples: the previous one of each node, and a new one with rates computed from it.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::pnode_stats_sample as sample;
use sea_orm::{ActiveValue::Set, ConnectionTrait, DbBackend, DbErr, FromQueryResult, Statement};

use crate::prpc::NodeStats;

/// Rates need this much time between samples to mean anything.
const MIN_RATE_GAP_SECONDS: f64 = 5.0;

/// What a new sample's rates are computed from.
#[derive(Debug, FromQueryResult)]
pub struct Previous {
    pnode_id: i64,
    sampled_at: DateTime<Utc>,
    packets_received: Option<i64>,
    packets_sent: Option<i64>,
    total_bytes: Option<i64>,
}

/// The newest sample of each node of `ids`, keyed by node.
pub async fn newest(
    db: &impl ConnectionTrait,
    ids: &[i64],
) -> Result<HashMap<i64, Previous>, DbErr> {
    let mut previous = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(1000) {
        let statement = newest_samples(db.get_database_backend(), chunk);
        for row in Previous::find_by_statement(statement).all(db).await? {
            previous.insert(row.pnode_id, row);
        }
    }
    Ok(previous)
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

/// A new sample of `stats` taken at `now`, with rates from `previous`.
pub fn row(
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
    use chrono::Duration;

    use super::*;

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
        let row = row(1, &stats(1600), Some(&previous(10, 1000, now)), now);
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
                row(1, &stats(10), Some(&previous(10, 1000, now)), now),
                "reset",
            ),
            (
                row(1, &stats(1600), Some(&previous(3, 1000, now)), now),
                "gap under 5 s",
            ),
            (row(1, &stats(1600), None, now), "first sample"),
        ] {
            assert_eq!(row.bytes_per_second, Set(None), "{why}");
            assert_eq!(row.packets_out_per_sec, Set(None), "{why}");
        }
    }
}
