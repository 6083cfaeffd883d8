//! Stats samples: the previous one of each node, and a new one with rates computed from it.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{pnode, pnode_stats_sample as sample};
use sea_orm::{
    ActiveValue::Set,
    ConnectionTrait, DbBackend, DbErr, FromQueryResult, Statement,
    sea_query::{Expr, ExprTrait, Query},
};

use crate::{
    db::{ROWS_PER_STATEMENT, newest},
    net::prpc::NodeStats,
};

/// Rates need this much time between samples to mean anything.
const MIN_RATE_GAP_SECONDS: f64 = 5.0;

/// What a new sample's rates are computed from: the node's newest sample.
pub(super) type Previous = sample::Model;

/// The newest sample of each node of `ids`, keyed by node.
pub(super) async fn newest(
    db: &impl ConnectionTrait,
    ids: &[i64],
) -> Result<HashMap<i64, Previous>, DbErr> {
    let mut previous = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(ROWS_PER_STATEMENT) {
        let statement = newest_samples(db.get_database_backend(), chunk);
        for row in db.query_all_raw(statement).await? {
            let sample = sample::Model::from_query_result(&row, "")?;
            previous.insert(sample.pnode_id, sample);
        }
    }
    Ok(previous)
}

/// The newest sample of each node of `ids`, picked by index as the view picks it.
fn newest_samples(backend: DbBackend, ids: &[i64]) -> Statement {
    const NODE: &str = "p";
    let nodes = Query::select()
        .from_as(pnode::Entity, NODE)
        .and_where(Expr::col((NODE, pnode::Column::Id)).is_in(ids.iter().copied()))
        .to_owned();
    let statement =
        newest::samples().newest_of_each(backend, nodes, Expr::col((NODE, pnode::Column::Id)));
    backend.build(&statement)
}

/// A new sample of `stats` taken at `now`, with rates from `previous`.
pub(super) fn row(
    pnode_id: i64,
    stats: &NodeStats,
    previous: Option<&Previous>,
    now: DateTime<Utc>,
) -> sample::ActiveModel {
    // A counter past i64::MAX cannot be stored: it is left out rather than wrapped.
    let to_i64 = |v: Option<u64>| v.and_then(|v| i64::try_from(v).ok());
    let (received, sent, total) = (
        to_i64(stats.packets_received),
        to_i64(stats.packets_sent),
        to_i64(stats.total_bytes),
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
        ram_used_bytes: Set(to_i64(stats.ram_used)),
        ram_total_bytes: Set(to_i64(stats.ram_total)),
        uptime_seconds: Set(to_i64(stats.uptime)),
        packets_received: Set(received),
        packets_sent: Set(sent),
        packets_in_per_sec: Set(rate(delta(
            received,
            previous.and_then(|p| p.packets_received),
        ))),
        packets_out_per_sec: Set(rate(delta(sent, previous.and_then(|p| p.packets_sent)))),
        total_bytes: Set(total),
        active_streams: Set(to_i64(stats.active_streams)),
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
            id: 1,
            pnode_id: 1,
            seed_base_url: None,
            sampled_at: now - Duration::seconds(seconds_ago),
            cpu_percent: None,
            ram_used_bytes: None,
            ram_total_bytes: None,
            uptime_seconds: None,
            packets_received: Some(counters),
            packets_sent: Some(counters),
            packets_in_per_sec: None,
            packets_out_per_sec: None,
            total_bytes: Some(counters),
            active_streams: None,
            delta_bytes: None,
            delta_seconds: None,
            bytes_per_second: None,
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
    fn the_newest_samples_per_backend() {
        for (backend, name) in [
            (DbBackend::Postgres, "postgres"),
            (DbBackend::Sqlite, "sqlite"),
        ] {
            insta::assert_snapshot!(
                format!("{name}_newest_samples"),
                newest_samples(backend, &[1, 2]).sql
            );
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
