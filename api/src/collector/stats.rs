//! `get-stats`, once per node per cycle: who is due, the calls (bounded in number at once and in
//! time), and what they leave behind — a sample with rates from the previous one, and the node's
//! reachability and backoff.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use entity::{pnode, pnode_stats_sample as sample};
use futures_util::{StreamExt, stream};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect, TransactionSession,
    TransactionTrait,
    sea_query::{CaseStatement, Expr},
};

use super::samples;
use crate::{
    db::{ROWS_PER_STATEMENT, version},
    net::prpc::{NodeStats, PrpcClient},
    net::targets::StatsTarget,
};

/// One get-stats call: an address that may be called (`crate::net::targets`), and the nodes
/// gossiped at it, each credited with its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Target {
    pub endpoint: StatsTarget,
    pub pnode_ids: Vec<i64>,
}

/// How long a node that failed `failures` times in a row (1 or more) is left alone, from the
/// start of the cycle that failed: 60 s · 2^min(failures, 5). A node that answered waits for
/// nothing: it is asked again in the next cycle.
pub(super) fn backoff(failures: i64) -> Duration {
    Duration::seconds(60 << failures.clamp(0, 5))
}

/// A node whose backoff ends within this long after a cycle's start is due in that cycle: cycles
/// start on a timer, and a few milliseconds of jitter must not cost a node a whole interval.
const DUE_SLACK: Duration = Duration::seconds(1);

/// The outcome of polling one node.
#[derive(Debug)]
pub(super) struct Polled {
    pub pnode_id: i64,
    pub stats: Option<NodeStats>,
}

/// Of `ids`, those still in failure backoff for a cycle started at `started`.
pub(super) async fn in_backoff(
    db: &impl ConnectionTrait,
    ids: &[i64],
    started: DateTime<Utc>,
) -> Result<Vec<i64>, DbErr> {
    let mut waiting = Vec::new();
    for chunk in ids.chunks(ROWS_PER_STATEMENT) {
        let ids: Vec<i64> = pnode::Entity::find()
            .select_only()
            .column(pnode::Column::Id)
            .filter(pnode::Column::Id.is_in(chunk.iter().copied()))
            .filter(pnode::Column::NextStatsAllowedAt.gt(started + DUE_SLACK))
            .into_tuple()
            .all(db)
            .await?;
        waiting.extend(ids);
    }
    Ok(waiting)
}

/// Calls every target, `concurrency` at a time, until `deadline`: targets not answered by then
/// are left out of the result (not counted as attempts).
pub(super) async fn poll(
    client: &PrpcClient,
    targets: Vec<Target>,
    concurrency: usize,
    deadline: tokio::time::Instant,
) -> Vec<Polled> {
    let mut calls = stream::iter(targets)
        .map(|target| async move {
            let stats = client.stats(&target.endpoint).await.ok();
            (target.pnode_ids, stats)
        })
        .buffer_unordered(concurrency.max(1));
    let mut polled = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline, calls.next()).await {
            Ok(Some((ids, stats))) => polled.extend(ids.into_iter().map(|pnode_id| Polled {
                pnode_id,
                stats: stats.clone(),
            })),
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

/// Writes the samples taken at `now` and the nodes' new state, in one transaction: a node that
/// answered is due again next cycle; one that failed waits [`backoff`] from `started`, the start
/// of this cycle (so that, at an interval equal to the backoff, it skips exactly one cycle).
pub(super) async fn record<C>(
    db: &C,
    polled: &[Polled],
    started: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), DbErr>
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
    let uptimes = insert_samples(&txn, polled, &answered, now).await?;
    mark_answered(&txn, &answered, &uptimes, now).await?;
    mark_failed(&txn, &failed, started, now).await?;
    if !polled.is_empty() {
        version::bump(&txn, now).await?;
    }
    txn.commit().await
}

/// Inserts a sample for each node that answered, with rates from its previous one. Returns each
/// such node's uptime, which goes on its row with the sample.
async fn insert_samples(
    txn: &impl ConnectionTrait,
    polled: &[Polled],
    answered: &[i64],
    now: DateTime<Utc>,
) -> Result<HashMap<i64, Option<i64>>, DbErr> {
    let previous = samples::newest(txn, answered).await?;
    let rows: Vec<_> = polled
        .iter()
        .filter_map(|p| {
            Some(samples::row(
                p.pnode_id,
                p.stats.as_ref()?,
                previous.get(&p.pnode_id),
                now,
            ))
        })
        .collect();
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        sample::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(txn)
            .await?;
    }
    Ok(rows
        .iter()
        .filter_map(|row| {
            let id = *row.pnode_id.try_as_ref()?;
            Some((id, row.uptime_seconds.try_as_ref().copied().flatten()))
        })
        .collect())
}

/// The nodes that answered: reachable, no failure, due again next cycle, their newest uptime.
async fn mark_answered(
    txn: &impl ConnectionTrait,
    answered: &[i64],
    uptimes: &HashMap<i64, Option<i64>>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    for chunk in answered.chunks(ROWS_PER_STATEMENT) {
        let uptime = chunk
            .iter()
            .fold(CaseStatement::new(), |case, id| {
                let uptime = uptimes.get(id).copied().flatten();
                case.case(pnode::Column::Id.eq(*id), Expr::value(uptime))
            })
            .finally(Expr::value(Option::<i64>::None));
        pnode::Entity::update_many()
            .col_expr(pnode::Column::StatsSampledAt, Expr::value(now))
            .col_expr(pnode::Column::StatsUptimeSeconds, uptime.into())
            .col_expr(pnode::Column::Reachable, Expr::value(true))
            .col_expr(pnode::Column::FailureCount, Expr::value(0_i64))
            .col_expr(pnode::Column::LastStatsAttemptAt, Expr::value(now))
            .col_expr(pnode::Column::LastStatsSuccessAt, Expr::value(now))
            .col_expr(
                pnode::Column::NextStatsAllowedAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(pnode::Column::UpdatedAt, Expr::value(now))
            .filter(pnode::Column::Id.is_in(chunk.iter().copied()))
            .exec(txn)
            .await?;
    }
    Ok(())
}

/// The nodes that failed: unreachable, one failure more, left alone for their backoff. The
/// backoff depends on each node's count of failures: one statement per count (at most 6 distinct
/// waits), not one per node.
async fn mark_failed(
    txn: &impl ConnectionTrait,
    failed: &[i64],
    started: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let mut by_failures: HashMap<i64, Vec<i64>> = HashMap::new();
    for chunk in failed.chunks(ROWS_PER_STATEMENT) {
        let nodes: Vec<(i64, i64)> = pnode::Entity::find()
            .select_only()
            .columns([pnode::Column::Id, pnode::Column::FailureCount])
            .filter(pnode::Column::Id.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(txn)
            .await?;
        for (id, failures) in nodes {
            by_failures
                .entry(failures.saturating_add(1))
                .or_default()
                .push(id);
        }
    }
    for (failures, ids) in by_failures {
        for chunk in ids.chunks(ROWS_PER_STATEMENT) {
            pnode::Entity::update_many()
                .col_expr(pnode::Column::Reachable, Expr::value(false))
                .col_expr(pnode::Column::FailureCount, Expr::value(failures))
                .col_expr(pnode::Column::LastStatsAttemptAt, Expr::value(now))
                .col_expr(
                    pnode::Column::NextStatsAllowedAt,
                    Expr::value(started + backoff(failures)),
                )
                .col_expr(pnode::Column::UpdatedAt, Expr::value(now))
                .filter(pnode::Column::Id.is_in(chunk.iter().copied()))
                .exec(txn)
                .await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_from_two_minutes_up_to_32_minutes() {
        let waits: Vec<i64> = (1..=7).map(|f| backoff(f).num_seconds()).collect();
        assert_eq!(waits, [120, 240, 480, 960, 1920, 1920, 1920]);
    }
}
