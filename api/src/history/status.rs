//! What `/api/ingestion-status` reports: each network's newest finished run, for all seeds or one,
//! added up over the networks asked for, and whether a cycle is running now.

use chrono::{DateTime, Utc};
use entity::{ingestion_run as run, ingestion_run_seed_stats as seed_stats};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::{network::Network, timestamp};

/// The newest collection run's figures.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IngestionStatus {
    #[serde(serialize_with = "timestamp::serialize_option")]
    #[schema(required = true, value_type = Option<String>, format = DateTime)]
    pub last_run_started_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "timestamp::serialize_option")]
    #[schema(required = true, value_type = Option<String>, format = DateTime)]
    pub last_run_finished_at: Option<DateTime<Utc>>,
    /// get-stats calls made.
    pub attempted: i64,
    pub success: i64,
    /// Nodes left alone because their backoff was running.
    pub backoff: i64,
    pub failed: i64,
    /// Distinct nodes reported.
    pub observed: i64,
    /// A cycle is in progress.
    pub is_running: bool,
    /// In an entry of `networks`: its network.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "mainnet")]
    pub network: Option<String>,
    /// Each network's own figures (these are their sum), in name order; empty in an entry.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(no_recursion)]
    pub networks: Vec<IngestionStatus>,
}

/// The newest finished runs' figures: of each network selected, added up (for `seed`: zeros where
/// it was not in them), with each network's own under `networks`. A run unfinished since before
/// `stale_before` was abandoned, not running.
pub async fn status(
    db: &impl ConnectionTrait,
    seed: Option<&str>,
    networks: &[Network],
    stale_before: DateTime<Utc>,
) -> Result<IngestionStatus, DbErr> {
    let mut total = IngestionStatus::default();
    for network in networks {
        let mut one = network_status(db, network.as_str(), seed, stale_before).await?;
        total.is_running |= one.is_running;
        total.last_run_started_at = total.last_run_started_at.max(one.last_run_started_at);
        total.last_run_finished_at = total.last_run_finished_at.max(one.last_run_finished_at);
        total.attempted += one.attempted;
        total.success += one.success;
        total.backoff += one.backoff;
        total.failed += one.failed;
        total.observed += one.observed;
        one.network = Some(network.to_string());
        total.networks.push(one);
    }
    Ok(total)
}

/// Figures of `network`'s newest finished run, for `seed` (zeros if that seed was not in it) or
/// for all its seeds.
async fn network_status(
    db: &impl ConnectionTrait,
    network: &str,
    seed: Option<&str>,
    stale_before: DateTime<Utc>,
) -> Result<IngestionStatus, DbErr> {
    let is_running = run::Entity::find()
        .filter(run::Column::Network.eq(network))
        .filter(run::Column::FinishedAt.is_null())
        .filter(run::Column::StartedAt.gt(stale_before))
        .one(db)
        .await?
        .is_some();
    let Some(last) = newest_cycle(db, network).await? else {
        return Ok(IngestionStatus {
            is_running,
            ..IngestionStatus::default()
        });
    };
    let mut status = IngestionStatus {
        last_run_started_at: Some(last.started_at),
        last_run_finished_at: last.finished_at,
        is_running,
        ..IngestionStatus::default()
    };
    match seed {
        None => {
            status.attempted = last.attempted;
            status.success = last.success;
            status.backoff = last.backoff;
            status.failed = last.failed;
            status.observed = last.observed;
        }
        Some(seed) => {
            if let Some(row) = seed_stats::Entity::find()
                .filter(seed_stats::Column::IngestionRunId.eq(last.id))
                .filter(seed_stats::Column::SeedBaseUrl.eq(seed))
                .one(db)
                .await?
            {
                status.attempted = row.attempted;
                status.success = row.success;
                status.backoff = row.backoff;
                status.failed = row.failed;
                status.observed = row.observed;
            }
        }
    }
    Ok(status)
}

/// `network`'s newest finished run, if it has one (one statement).
pub(crate) async fn newest_cycle(
    db: &impl ConnectionTrait,
    network: &str,
) -> Result<Option<run::Model>, DbErr> {
    run::Entity::find()
        .filter(run::Column::Network.eq(network))
        .filter(run::Column::FinishedAt.is_not_null())
        .order_by_desc(run::Column::Id)
        .one(db)
        .await
}
