//! The seeds: each listed one (configured, or named by the data) with its part in the newest
//! finished cycle, and when a seed last answered (its newest observations' time).

use chrono::{DateTime, Utc};
use entity::{
    ingestion_run as run, ingestion_run_seed_stats as seed_stats,
    pnode_gossip_observation as observation,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, QueryFilter, QuerySelect,
    sea_query::{Expr, Query},
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    db::newest::History,
    domain::{
        network::{self, Network},
        seeds::{Seed, Seeds},
        timestamp,
    },
    view,
};

/// `GET /api/seeds`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SeedsBody {
    pub seeds: Vec<SeedStatus>,
}

/// A seed and how it did in the newest finished cycle.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SeedStatus {
    /// The network it answers for.
    #[schema(example = "mainnet")]
    pub network: String,
    /// The seed's base URL, used as its id (`/api/seeds/{id}/pnodes` takes it URL-encoded, or
    /// the seed's position in this list, from 1).
    pub id: String,
    pub name: String,
    pub base_url: String,
    /// Listed in this replica's `PNODE_SEEDS` (else only named by the data).
    pub configured: bool,
    /// When its newest answer was recorded; null if none is kept.
    #[serde(serialize_with = "timestamp::serialize_option")]
    #[schema(value_type = Option<String>, format = DateTime, required = true)]
    pub last_answer_at: Option<DateTime<Utc>>,
    /// Its part in the newest finished cycle; null if it had none.
    #[schema(required = true)]
    pub last_cycle: Option<SeedOutcome>,
}

/// A seed's part in a cycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SeedOutcome {
    pub cycle_id: i64,
    #[serde(serialize_with = "timestamp::serialize_option")]
    #[schema(value_type = Option<String>, format = DateTime, required = true)]
    pub finished_at: Option<DateTime<Utc>>,
    /// Distinct nodes it reported.
    pub nodes_reported: i64,
    /// Why it gave no pods, if it did not.
    #[schema(required = true)]
    pub error: Option<String>,
}

/// Every listed seed of the `networks` selected (`None`: all) with its outcome in its network's
/// newest finished cycle (the seeds, then per network its newest cycle and that cycle's per-seed
/// figures, then each seed's newest answer time).
pub(crate) async fn seed_list(
    db: &impl ConnectionTrait,
    configured: &Seeds,
    networks: Option<&[Network]>,
) -> Result<SeedsBody, DbErr> {
    let mut listed = view::seeds(db, configured).await?;
    listed.retain(|seed| network::selected(networks, seed.network.as_str()));
    let mut newest_cycles: Vec<(Network, run::Model, Vec<seed_stats::Model>)> = Vec::new();
    for seed in &listed {
        if newest_cycles
            .iter()
            .any(|(known, _, _)| known == &seed.network)
        {
            continue;
        }
        let last = super::status::newest_cycle(db, seed.network.as_str()).await?;
        if let Some(last) = last {
            let outcomes = seed_stats::Entity::find()
                .filter(seed_stats::Column::IngestionRunId.eq(last.id))
                .all(db)
                .await?;
            newest_cycles.push((seed.network.clone(), last, outcomes));
        }
    }
    let answered = newest_answers(db, &listed).await?;
    let seeds = listed
        .into_iter()
        .map(
            |Seed {
                 id,
                 name,
                 base_url,
                 network,
                 ..
             }| {
                let cycle = newest_cycles.iter().find(|(on, _, _)| on == &network);
                let last = cycle.map(|(_, run, _)| run);
                let outcome = cycle.and_then(|(_, _, outcomes)| {
                    outcomes.iter().find(|row| row.seed_base_url == base_url)
                });
                SeedStatus {
                    network: network.to_string(),
                    configured: configured
                        .as_slice()
                        .iter()
                        .any(|seed| seed.base_url == base_url),
                    last_answer_at: answered
                        .iter()
                        .find(|(seed, _)| *seed == base_url)
                        .and_then(|(_, at)| *at),
                    last_cycle: outcome.map(|row| SeedOutcome {
                        cycle_id: row.ingestion_run_id,
                        finished_at: last.and_then(|run| run.finished_at),
                        nodes_reported: row.observed,
                        error: row.error.clone(),
                    }),
                    id,
                    name,
                    base_url,
                }
            },
        )
        .collect();
    Ok(SeedsBody { seeds })
}

/// Each seed of `seeds` that has a kept answer, and when its newest was recorded: one index walk
/// per seed (by seed and time), never its whole history.
async fn newest_answers(
    db: &impl ConnectionTrait,
    seeds: &[Seed],
) -> Result<Vec<(String, Option<DateTime<Utc>>)>, DbErr> {
    if seeds.is_empty() {
        return Ok(Vec::new());
    }
    const KEYS: &str = "k";
    let keys = Query::select()
        .from_values(seeds.iter().map(|seed| seed.base_url.clone()), KEYS)
        .to_owned();
    let by_seed = History::new(
        observation::Entity,
        observation::Column::SeedBaseUrl,
        observation::Column::ObservedAt,
        observation::Column::Id,
    );
    let backend = db.get_database_backend();
    let statement = by_seed.newest_of_each(backend, keys, Expr::col((KEYS, "column1")));
    db.query_all_raw(backend.build(&statement))
        .await?
        .iter()
        .map(|row| {
            let newest = observation::Model::from_query_result(row, "")?;
            Ok((newest.seed_base_url, Some(newest.observed_at)))
        })
        .collect()
}

/// When `base_url`'s newest kept answer was recorded (its observations carry that time), if any.
pub(crate) async fn answered_at(
    db: &impl ConnectionTrait,
    base_url: &str,
) -> Result<Option<DateTime<Utc>>, DbErr> {
    let newest: Option<Option<DateTime<Utc>>> = observation::Entity::find()
        .select_only()
        .column_as(observation::Column::ObservedAt.max(), "answered_at")
        .filter(observation::Column::SeedBaseUrl.eq(base_url))
        .into_tuple()
        .one(db)
        .await?;
    Ok(newest.flatten())
}
