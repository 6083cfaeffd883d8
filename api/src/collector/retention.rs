//! Retention: history older than its window is deleted after collection cycles, a bounded batch
//! per statement, so no statement holds a table for long whatever the backlog.

use chrono::{DateTime, Utc};
use entity::{
    event, ingestion_run as run, pnode, pnode_gossip_observation as observation,
    pnode_seed_sighting as sighting, pnode_stats_sample as sample,
    pod_credits_snapshot as snapshot,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter, Statement,
    TransactionSession, TransactionTrait, Value,
    sea_query::{DynIden, Expr, ExprTrait, IntoIden, Query},
};

use crate::{collector::settings::RetentionSettings, db::version};

/// Rows one DELETE removes at most.
pub const BATCH: u64 = 5000;

/// Rows deleted by one pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pruned {
    pub observations: u64,
    pub sightings: u64,
    pub samples: u64,
    pub runs: u64,
    pub credits: u64,
    pub events: u64,
}

impl Pruned {
    pub fn total(&self) -> u64 {
        self.observations + self.sightings + self.samples + self.runs + self.credits + self.events
    }
}

/// A table to prune: its time column, and the columns that identify a row.
struct Table {
    table: DynIden,
    time: DynIden,
    key: Vec<DynIden>,
    /// Whether the view shows its rows: deleting them then moves the data version.
    shown: bool,
}

impl Table {
    fn new<E: EntityTrait>(entity: E, time: E::Column, key: &[E::Column]) -> Self {
        Self {
            table: entity.into_iden(),
            time: time.into_iden(),
            key: key.iter().map(|column| column.into_iden()).collect(),
            shown: true,
        }
    }

    /// The same table, which no cached answer shows (deleting from it invalidates nothing).
    fn not_shown(self) -> Self {
        Self {
            shown: false,
            ..self
        }
    }

    /// `DELETE FROM table WHERE (key) IN (SELECT key FROM table WHERE time < cutoff LIMIT batch)`:
    /// PostgreSQL's DELETE takes no LIMIT, and SQLite's only when built with an option.
    fn delete_batch(&self, backend: DbBackend, cutoff: DateTime<Utc>, batch: u64) -> Statement {
        let oldest = Query::select()
            .columns(self.key.clone())
            .from(self.table.clone())
            .and_where(Expr::col(self.time.clone()).lt(cutoff))
            .limit(batch)
            .to_owned();
        let key = Expr::tuple(self.key.iter().map(|column| Expr::col(column.clone())));
        backend.build(
            Query::delete()
                .from_table(self.table.clone())
                .and_where(key.in_subquery(oldest)),
        )
    }
}

/// Deletes what each window no longer keeps, as of `now`, in batches of `batch` rows.
pub async fn prune<C>(
    db: &C,
    windows: &RetentionSettings,
    now: DateTime<Utc>,
    batch: u64,
) -> Result<Pruned, DbErr>
where
    C: ConnectionTrait + TransactionTrait,
{
    let before = |window: std::time::Duration| {
        now - chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX)
    };
    let observations = Table::new(
        observation::Entity,
        observation::Column::ObservedAt,
        &[observation::Column::Id],
    );
    // A sighting not renewed within the observation window is dropped with the observations, so
    // the view never shows a node as seen by a seed whose gossip no longer reports it.
    let sightings = Table::new(
        sighting::Entity,
        sighting::Column::LastSeenAt,
        &[sighting::Column::PnodeId, sighting::Column::SeedBaseUrl],
    );
    let samples = Table::new(
        sample::Entity,
        sample::Column::SampledAt,
        &[sample::Column::Id],
    );
    // Per-seed figures go with their run (ON DELETE CASCADE).
    let runs = Table::new(run::Entity, run::Column::StartedAt, &[run::Column::Id]);
    let credits = Table::new(
        snapshot::Entity,
        snapshot::Column::ObservedAt,
        &[snapshot::Column::Id],
    );
    let events = Table::new(event::Entity, event::Column::At, &[event::Column::Id]).not_shown();
    // A node's row keeps a copy of its newest observation and sample: when retention deletes
    // them, the copy goes too, so that a node shows nothing retention no longer keeps.
    forget_copies(
        db,
        pnode::Column::GossipObservedAt,
        &[
            (pnode::Column::GossipVersion, Value::String(None)),
            (pnode::Column::GossipIsPublic, Value::Bool(None)),
            (pnode::Column::GossipStorageCommitted, Value::BigInt(None)),
            (pnode::Column::GossipStorageUsed, Value::BigInt(None)),
            (pnode::Column::GossipAddress, Value::String(None)),
            (pnode::Column::GossipLastSeen, Value::BigInt(None)),
        ],
        before(windows.observations),
        now,
    )
    .await?;
    forget_copies(
        db,
        pnode::Column::StatsSampledAt,
        &[(pnode::Column::StatsUptimeSeconds, Value::BigInt(None))],
        before(windows.stats),
        now,
    )
    .await?;
    Ok(Pruned {
        observations: delete_older(db, &observations, before(windows.observations), batch, now)
            .await?,
        sightings: delete_older(db, &sightings, before(windows.observations), batch, now).await?,
        samples: delete_older(db, &samples, before(windows.stats), batch, now).await?,
        runs: delete_older(db, &runs, before(windows.runs), batch, now).await?,
        credits: delete_older(db, &credits, before(windows.credits), batch, now).await?,
        events: delete_older(db, &events, before(windows.events), batch, now).await?,
    })
}

/// Clears, on every node's row, the copy (`time` and the typed nulls of `columns`) of a history
/// row older than `cutoff`, in one transaction with the data version when any changed.
async fn forget_copies<C>(
    db: &C,
    time: pnode::Column,
    columns: &[(pnode::Column, Value)],
    cutoff: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), DbErr>
where
    C: ConnectionTrait + TransactionTrait,
{
    let txn = db.begin().await?;
    let mut update =
        pnode::Entity::update_many().col_expr(time, Expr::value(Option::<DateTime<Utc>>::None));
    for (column, null) in columns {
        update = update.col_expr(*column, Expr::value(null.clone()));
    }
    let cleared = update
        .filter(time.lt(cutoff))
        .exec(&txn)
        .await?
        .rows_affected;
    if cleared > 0 {
        version::bump(&txn, now).await?;
    }
    txn.commit().await
}

/// Deletes `batch` rows at a time until a batch comes back short. Each batch commits on its own
/// (with the data version, when it deleted anything): a long backlog never becomes one long lock.
async fn delete_older<C>(
    db: &C,
    table: &Table,
    cutoff: DateTime<Utc>,
    batch: u64,
    now: DateTime<Utc>,
) -> Result<u64, DbErr>
where
    C: ConnectionTrait + TransactionTrait,
{
    let statement = table.delete_batch(db.get_database_backend(), cutoff, batch);
    let mut deleted = 0;
    loop {
        let txn = db.begin().await?;
        let removed = txn.execute_raw(statement.clone()).await?.rows_affected();
        if removed > 0 && table.shown {
            version::bump(&txn, now).await?;
        }
        txn.commit().await?;
        deleted += removed;
        if removed < batch {
            return Ok(deleted);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_deletes_by_key_through_a_limited_subquery() {
        let cutoff = DateTime::from_timestamp(1_765_057_753, 0).expect("a time");
        let sightings = Table::new(
            sighting::Entity,
            sighting::Column::LastSeenAt,
            &[sighting::Column::PnodeId, sighting::Column::SeedBaseUrl],
        );
        for (backend, name) in [
            (DbBackend::Postgres, "postgres"),
            (DbBackend::Sqlite, "sqlite"),
        ] {
            let statement = sightings.delete_batch(backend, cutoff, 5000);
            insta::assert_snapshot!(format!("{name}_delete_sightings"), statement.sql);
        }
    }
}
