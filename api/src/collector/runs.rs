//! `ingestion_runs` and `ingestion_run_seed_stats`: what each cycle did, overall and per seed.

use chrono::{DateTime, Utc};
use entity::{ingestion_run as run, ingestion_run_seed_stats as seed_stats, pnode};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, TransactionSession, TransactionTrait,
};

use crate::{
    collector::score,
    db::version,
    push::events::{self, Change, Event},
};

/// Counts of one cycle, for all seeds or for one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// get-stats calls made.
    pub attempted: i64,
    pub success: i64,
    /// Nodes skipped because their backoff was still running.
    pub backoff: i64,
    pub failed: i64,
    /// Distinct nodes reported.
    pub observed: i64,
}

/// One seed's part of a cycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedReport {
    pub seed_base_url: String,
    pub counts: Counts,
    /// Why the seed gave nothing, if it did not.
    pub error: Option<String>,
}

/// Opens the run: its row exists, unfinished, while the cycle works (the ingestion status shows
/// it running).
pub(super) async fn start<C>(db: &C, network: &str, now: DateTime<Utc>) -> Result<i64, DbErr>
where
    C: ConnectionTrait + TransactionTrait,
{
    let txn = db.begin().await?;
    let row = run::ActiveModel {
        network: Set(network.to_owned()),
        started_at: Set(now),
        finished_at: Set(None),
        attempted: Set(0),
        success: Set(0),
        backoff: Set(0),
        failed: Set(0),
        observed: Set(0),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    version::bump(&txn, now).await?;
    txn.commit().await?;
    Ok(row.id)
}

/// Deletes the run of a failed cycle: it never finished, and nothing was recorded with it (its
/// writes were refused); the ingestion status then no longer shows it running. A run that did
/// finish is left alone.
pub(super) async fn discard<C>(db: &C, run_id: i64, now: DateTime<Utc>) -> Result<(), DbErr>
where
    C: ConnectionTrait + TransactionTrait,
{
    let txn = db.begin().await?;
    let deleted = run::Entity::delete_many()
        .filter(run::Column::Id.eq(run_id))
        .filter(run::Column::FinishedAt.is_null())
        .exec(&txn)
        .await?;
    if deleted.rows_affected > 0 {
        version::bump(&txn, now).await?;
    }
    txn.commit().await
}

/// Closes the run of `network` with its totals, the network's figures (`public` nodes seen; nodes
/// reachable now, counted here) and per-seed figures, scores every node of the network and records
/// the events of the close (the nodes that changed since last announced, a node gone when not
/// observed for `gone_after`; then the cycle), all as of `now`, in one transaction. Returns the
/// events.
#[allow(clippy::too_many_arguments)]
pub(super) async fn finish<C>(
    db: &C,
    network: &str,
    run_id: i64,
    totals: &Counts,
    public: i64,
    seeds: &[SeedReport],
    now: DateTime<Utc>,
    gone_after: chrono::Duration,
) -> Result<Vec<Event>, DbErr>
where
    C: ConnectionTrait + TransactionTrait,
{
    let txn = db.begin().await?;
    let reachable = pnode::Entity::find()
        .filter(pnode::Column::Network.eq(network))
        .filter(pnode::Column::Reachable.eq(true))
        .count(&txn)
        .await?;
    if !seeds.is_empty() {
        let rows = seeds.iter().map(|seed| seed_stats::ActiveModel {
            ingestion_run_id: Set(run_id),
            seed_base_url: Set(seed.seed_base_url.clone()),
            attempted: Set(seed.counts.attempted),
            backoff: Set(seed.counts.backoff),
            success: Set(seed.counts.success),
            failed: Set(seed.counts.failed),
            observed: Set(seed.counts.observed),
            error: Set(seed.error.clone()),
            ..Default::default()
        });
        seed_stats::Entity::insert_many(rows)
            .exec_without_returning(&txn)
            .await?;
    }
    let reachable = i64::try_from(reachable).unwrap_or(i64::MAX);
    let closed = run::ActiveModel {
        id: Set(run_id),
        finished_at: Set(Some(now)),
        attempted: Set(totals.attempted),
        success: Set(totals.success),
        backoff: Set(totals.backoff),
        failed: Set(totals.failed),
        observed: Set(totals.observed),
        reachable: Set(reachable),
        public: Set(public),
        ..Default::default()
    }
    .update(&txn)
    .await?;
    score::refresh(&txn, network, now).await?;
    let mut changes = events::announce_nodes(&txn, network, now, gone_after).await?;
    version::bump_cycle_finished(&txn, now).await?;
    let data_version = version::current(&txn).await?.version;
    changes.push(Change::Cycle {
        run_id,
        started_at: closed.started_at,
        finished_at: now,
        attempted: totals.attempted,
        success: totals.success,
        failed: totals.failed,
        backoff: totals.backoff,
        observed: totals.observed,
        reachable,
        public,
        data_version,
        node_events: changes.len() as i64,
    });
    let recorded = events::record(&txn, network, changes, now).await?;
    txn.commit().await?;
    Ok(recorded)
}
