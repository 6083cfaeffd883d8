//! A deterministic synthetic network for tests and benchmarks: nodes, their gossip history, stats
//! samples, seed sightings and credits, written with multi-row inserts in transactions.

use chrono::{DateTime, Duration, Utc};
use entity::{
    ingestion_run as run, pnode, pnode_gossip_observation as observation,
    pnode_seed_sighting as sighting, pnode_stats_sample as sample, pod_credits_snapshot as credits,
};
use sea_orm::{
    ActiveValue::Set, ConnectionTrait, DbBackend, DbErr, EntityTrait, TransactionSession,
    TransactionTrait,
};

use crate::rng::Rng;
use pnode_api::{
    collector::score,
    db::{ROWS_PER_STATEMENT, version},
};

/// The network every generated node, run and credits snapshot is on (the default one).
const NETWORK: &str = pnode_api::domain::network::Network::DEFAULT_NAME;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::Args)]
pub struct Spec {
    /// Nodes to create.
    #[arg(long, default_value_t = 2000)]
    pub nodes: u32,
    /// Gossip observations per node (its history depth).
    #[arg(long = "observations-per-node", default_value_t = 10)]
    pub observations_per_node: u32,
    /// Stats samples per node.
    #[arg(long = "samples-per-node", default_value_t = 10)]
    pub samples_per_node: u32,
    /// Seeds whose gossip reported the nodes.
    #[arg(long, default_value_t = 4)]
    pub seeds: u32,
    /// Seed of the random generator: the same value makes the same network.
    #[arg(long = "random-seed", default_value_t = 1)]
    pub random_seed: u64,
}

/// What was written.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    pub nodes: u64,
    pub observations: u64,
    pub samples: u64,
    pub sightings: u64,
    pub credits: u64,
    /// Finished collection runs, one per minute of history.
    pub runs: u64,
}

/// Nodes whose rows go in one transaction.
const NODES_PER_TRANSACTION: usize = 500;
const SEEN_EVERY: i64 = 60;
const STORAGE_COMMITTED: i64 = 183_000_000_000;

/// Bytes a node uses at its `j`-th observation.
fn storage_used(j: i64) -> i64 {
    94_633 + j * 1000
}
const VERSIONS: [&str; 6] = [
    "0.7.3",
    "0.8.0",
    "0.8.0-trynet.20251212183600.9eea72e",
    "0.10.1",
    "unknown",
    "0.9.0",
];

/// Adds a synthetic network, as of `now`, to a migrated database. Node pubkeys are fixed by
/// `spec.random_seed`, so generate into an empty database (or use another seed).
pub async fn generate<C>(db: &C, spec: Spec, now: DateTime<Utc>) -> Result<Written, DbErr>
where
    C: ConnectionTrait + TransactionTrait,
{
    let first_id = next_node_id(db).await?;
    let mut rng = Rng::new(spec.random_seed);
    let seeds: Vec<String> = (1..=spec.seeds.max(1))
        .map(|i| format!("http://127.0.1.{i}:6000"))
        .collect();
    let mut written = Written::default();
    let ids: Vec<i64> = (0..i64::from(spec.nodes)).map(|i| first_id + i).collect();
    for batch in ids.chunks(NODES_PER_TRANSACTION) {
        let txn = db.begin().await?;
        let mut rows = Rows::default();
        for &id in batch {
            rows.add_node(id, &mut rng, &seeds, spec, now);
        }
        written.nodes += insert(&txn, rows.nodes).await?;
        written.observations += insert(&txn, rows.observations).await?;
        written.samples += insert(&txn, rows.samples).await?;
        written.sightings += insert(&txn, rows.sightings).await?;
        written.credits += insert(&txn, rows.credits).await?;
        version::bump(&txn, now).await?;
        txn.commit().await?;
    }
    written.runs = insert_runs(db, spec, now).await?;
    if db.get_database_backend() == DbBackend::Postgres {
        // Ids were given explicitly: move the sequence past them for later inserts.
        db.execute_unprepared(
            "SELECT setval(pg_get_serial_sequence('pnodes', 'id'), (SELECT MAX(id) FROM pnodes))",
        )
        .await?;
    }
    Ok(written)
}

/// One finished collection run per minute of the history's depth, as a collector would have left
/// them (every node observed, a fifth reachable, a quarter public), then every node's score.
async fn insert_runs<C>(db: &C, spec: Spec, now: DateTime<Utc>) -> Result<u64, DbErr>
where
    C: ConnectionTrait + TransactionTrait,
{
    let nodes = i64::from(spec.nodes);
    let depth = i64::from(spec.observations_per_node);
    let runs: Vec<run::ActiveModel> = (0..depth)
        .map(|minute| {
            let started_at = now - Duration::seconds(SEEN_EVERY * (depth - minute));
            run::ActiveModel {
                network: Set(NETWORK.to_owned()),
                started_at: Set(started_at),
                finished_at: Set(Some(started_at + Duration::seconds(30))),
                attempted: Set(nodes / 4),
                success: Set(nodes / 5),
                backoff: Set(nodes - nodes / 4),
                failed: Set(nodes / 4 - nodes / 5),
                observed: Set(nodes),
                reachable: Set(nodes / 5),
                public: Set(nodes / 4),
                ..Default::default()
            }
        })
        .collect();
    let txn = db.begin().await?;
    let written = insert(&txn, runs).await?;
    // As the collector does when it closes a cycle.
    score::refresh(&txn, NETWORK, now).await?;
    version::bump(&txn, now).await?;
    txn.commit().await?;
    Ok(written)
}

async fn next_node_id(db: &impl ConnectionTrait) -> Result<i64, DbErr> {
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT COALESCE(MAX(id), 0) + 1 AS next FROM pnodes",
        ))
        .await?;
    row.map_or(Ok(1), |row| row.try_get("", "next"))
}

async fn insert<A>(db: &impl ConnectionTrait, rows: Vec<A>) -> Result<u64, DbErr>
where
    A: sea_orm::ActiveModelTrait,
{
    let count = rows.len() as u64;
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<A> = rows.by_ref().take(ROWS_PER_STATEMENT).collect();
        A::Entity::insert_many(chunk)
            .exec_without_returning(db)
            .await?;
    }
    Ok(count)
}

#[derive(Default)]
struct Rows {
    nodes: Vec<pnode::ActiveModel>,
    observations: Vec<observation::ActiveModel>,
    samples: Vec<sample::ActiveModel>,
    sightings: Vec<sighting::ActiveModel>,
    credits: Vec<credits::ActiveModel>,
}

impl Rows {
    fn add_node(
        &mut self,
        id: i64,
        rng: &mut Rng,
        seeds: &[String],
        spec: Spec,
        now: DateTime<Utc>,
    ) {
        let pubkey = rng.pubkey();
        let public = rng.below(4) == 0;
        let reachable = public && rng.below(5) != 0;
        let address = format!(
            "127.{}.{}.{}:9001",
            rng.below(256),
            rng.below(256),
            1 + rng.below(254)
        );
        let version = VERSIONS[rng.below(VERSIONS.len() as u64) as usize];
        let depth = i64::from(spec.observations_per_node);
        let first_seen = now - Duration::seconds(SEEN_EVERY * depth);
        let failures = if reachable { 0 } else { rng.below(6) as i64 };
        let credits_now = rng.below(10_000) as i64;
        let uptime = rng.below(1_000_000) as i64;
        let samples = i64::from(spec.samples_per_node);
        // The newest observation's and sample's figures, as the collector copies them.
        let (newest_observed, newest_sampled) = (depth > 0, samples > 0);

        self.nodes.push(pnode::ActiveModel {
            id: Set(id),
            network: Set(NETWORK.to_owned()),
            pubkey: Set(pubkey.clone()),
            created_at: Set(first_seen),
            updated_at: Set(now),
            reachable: Set(reachable),
            failure_count: Set(failures),
            last_stats_attempt_at: Set(Some(now - Duration::seconds(30))),
            last_stats_success_at: Set(public.then(|| now - Duration::seconds(30 + 60 * failures))),
            next_stats_allowed_at: Set(Some(now + Duration::seconds(60 << failures.min(5)))),
            latest_credits: Set(Some(credits_now)),
            credits_updated_at: Set(Some(now - Duration::hours(1))),
            gossip_observed_at: Set(newest_observed.then_some(now)),
            gossip_version: Set(newest_observed.then(|| version.to_owned())),
            gossip_is_public: Set(newest_observed.then_some(public)),
            gossip_storage_committed: Set(newest_observed.then_some(STORAGE_COMMITTED)),
            gossip_storage_used: Set(newest_observed.then(|| storage_used(depth - 1))),
            stats_sampled_at: Set(newest_sampled.then(|| now - Duration::seconds(SEEN_EVERY))),
            stats_uptime_seconds: Set(newest_sampled.then(|| uptime + SEEN_EVERY * (samples - 1))),
            // Scored once every row is in (see `insert_runs`).
            ..Default::default()
        });

        let mut seen_by: Vec<(usize, DateTime<Utc>, DateTime<Utc>)> = Vec::new();
        for j in 0..depth {
            let observed_at = first_seen + Duration::seconds(SEEN_EVERY * (j + 1));
            let seed = (id as usize + j as usize) % seeds.len();
            match seen_by.iter_mut().find(|(s, _, _)| *s == seed) {
                Some(entry) => entry.2 = observed_at,
                None => seen_by.push((seed, observed_at, observed_at)),
            }
            self.observations.push(observation::ActiveModel {
                pnode_id: Set(id),
                seed_base_url: Set(seeds[seed].clone()),
                address: Set(address.clone()),
                version: Set(Some(version.to_owned())),
                last_seen_timestamp: Set(Some(observed_at.timestamp() - 5)),
                observed_at: Set(observed_at),
                is_public: Set(Some(public)),
                rpc_port: Set(Some(6000)),
                storage_committed: Set(Some(STORAGE_COMMITTED)),
                storage_used: Set(Some(storage_used(j))),
                storage_usage_percent: Set(Some(
                    storage_used(j) as f64 / STORAGE_COMMITTED as f64 * 100.0,
                )),
                uptime_seconds: Set(Some(uptime + SEEN_EVERY * j)),
                ..Default::default()
            });
        }
        self.sightings
            .extend(
                seen_by
                    .into_iter()
                    .map(|(seed, first, last)| sighting::ActiveModel {
                        pnode_id: Set(id),
                        seed_base_url: Set(seeds[seed].clone()),
                        first_seen_at: Set(first),
                        last_seen_at: Set(last),
                    }),
            );

        let (mut received, mut sent, mut bytes) = (0_i64, 0_i64, 0_i64);
        for j in 0..samples {
            let sampled_at = now - Duration::seconds(SEEN_EVERY * (samples - j));
            let (d_in, d_out, d_bytes) = (
                rng.below(600) as i64,
                rng.below(600) as i64,
                rng.below(90_000) as i64,
            );
            received += d_in;
            sent += d_out;
            bytes += d_bytes;
            let rate = |delta: i64| (j > 0).then(|| delta as f64 / SEEN_EVERY as f64);
            self.samples.push(sample::ActiveModel {
                pnode_id: Set(id),
                seed_base_url: Set(None),
                sampled_at: Set(sampled_at),
                cpu_percent: Set(Some(rng.below(10_000) as f64 / 100.0)),
                ram_used_bytes: Set(Some(5_399_207_936 + rng.below(1 << 30) as i64)),
                ram_total_bytes: Set(Some(12_567_232_512)),
                uptime_seconds: Set(Some(uptime + SEEN_EVERY * j)),
                packets_received: Set(Some(received)),
                packets_sent: Set(Some(sent)),
                packets_in_per_sec: Set(rate(d_in)),
                packets_out_per_sec: Set(rate(d_out)),
                total_bytes: Set(Some(bytes)),
                active_streams: Set(Some(rng.below(8) as i64)),
                delta_bytes: Set((j > 0).then_some(d_bytes)),
                delta_seconds: Set((j > 0).then_some(SEEN_EVERY as f64)),
                bytes_per_second: Set(rate(d_bytes)),
                ..Default::default()
            });
        }

        for (age, value) in [
            (Duration::hours(26), credits_now - rng.below(500) as i64),
            (Duration::hours(1), credits_now),
        ] {
            self.credits.push(credits::ActiveModel {
                network: Set(NETWORK.to_owned()),
                pod_pubkey: Set(pubkey.clone()),
                credits: Set(value),
                observed_at: Set(now - age),
                source_url: Set("http://127.0.1.1:8000/api/pods-credits".to_owned()),
                ..Default::default()
            });
        }
    }
}
