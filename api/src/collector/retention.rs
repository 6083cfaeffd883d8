//! Retention: history older than its window is deleted after collection cycles, a bounded batch
//! per statement, so no statement holds a table for long whatever the backlog.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr, Statement, Value};

use crate::config::RetentionSettings;

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
}

impl Pruned {
    pub fn total(&self) -> u64 {
        self.observations + self.sightings + self.samples + self.runs + self.credits
    }
}

/// What to prune: a table, its time column, and the key that identifies a row.
struct Target {
    table: &'static str,
    time: &'static str,
    key: &'static str,
}

const OBSERVATIONS: Target = Target {
    table: "pnode_gossip_observations",
    time: "observed_at",
    key: "id",
};
/// A sighting not renewed within the observation window is dropped with the observations, so
/// the view never shows a node as seen by a seed whose gossip no longer reports it.
const SIGHTINGS: Target = Target {
    table: "pnode_seed_sightings",
    time: "last_seen_at",
    key: "pnode_id, seed_base_url",
};
const SAMPLES: Target = Target {
    table: "pnode_stats_samples",
    time: "sampled_at",
    key: "id",
};
/// Per-seed figures go with their run (ON DELETE CASCADE).
const RUNS: Target = Target {
    table: "ingestion_runs",
    time: "started_at",
    key: "id",
};
const CREDITS: Target = Target {
    table: "pod_credits_snapshots",
    time: "observed_at",
    key: "id",
};

/// Deletes what each window no longer keeps, as of `now`, in batches of `batch` rows.
pub async fn prune(
    db: &impl ConnectionTrait,
    windows: &RetentionSettings,
    now: DateTime<Utc>,
    batch: u64,
) -> Result<Pruned, DbErr> {
    let before = |window: std::time::Duration| {
        now - chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX)
    };
    Ok(Pruned {
        observations: delete_older(db, &OBSERVATIONS, before(windows.observations), batch).await?,
        sightings: delete_older(db, &SIGHTINGS, before(windows.observations), batch).await?,
        samples: delete_older(db, &SAMPLES, before(windows.stats), batch).await?,
        runs: delete_older(db, &RUNS, before(windows.runs), batch).await?,
        credits: delete_older(db, &CREDITS, before(windows.credits), batch).await?,
    })
}

/// `DELETE ... WHERE key IN (SELECT key ... LIMIT batch)` until a batch comes back short. Each
/// statement commits on its own: a long backlog never becomes one long lock.
async fn delete_older(
    db: &impl ConnectionTrait,
    target: &Target,
    cutoff: DateTime<Utc>,
    batch: u64,
) -> Result<u64, DbErr> {
    let backend = db.get_database_backend();
    let placeholder = match backend {
        sea_orm::DbBackend::Postgres => "$1",
        _ => "?",
    };
    let Target { table, time, key } = target;
    let sql = format!(
        "DELETE FROM {table} WHERE ({key}) IN \
         (SELECT {key} FROM {table} WHERE {time} < {placeholder} LIMIT {batch})"
    );
    let mut deleted = 0;
    loop {
        let statement = Statement::from_sql_and_values(backend, &sql, [Value::from(cutoff)]);
        let removed = db.execute_raw(statement).await?.rows_affected();
        deleted += removed;
        if removed < batch {
            return Ok(deleted);
        }
    }
}
