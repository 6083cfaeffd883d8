//! A simulated network on loopback, a fresh migrated database, and a collector between them.

use std::time::Duration;

use pnode_api::{
    collector::{Collector, CycleReport},
    config::{CollectorSettings, DatabaseSettings},
    db::Database,
    tools::sim::{SimConfig, SimNetwork},
};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use tokio::sync::watch;

use crate::helpers::{Backend, TestDb};

/// Short intervals and timeouts (every simulated peer is on loopback), with room for a loaded CI
/// machine: a healthy peer answers in milliseconds.
pub fn fast_settings() -> CollectorSettings {
    CollectorSettings {
        interval: Duration::from_millis(500),
        prpc_timeout: Duration::from_secs(2),
        stats_concurrency: 16,
        cycle_deadline: Duration::from_secs(10),
        ..CollectorSettings::default()
    }
}

pub struct Rig {
    pub sim: SimNetwork,
    pub db: TestDb,
    pub collector: Collector,
    /// A connection of its own, for reading what the collector wrote.
    pub conn: DatabaseConnection,
    stop: watch::Receiver<bool>,
    _stop_switch: watch::Sender<bool>,
}

impl Rig {
    pub async fn start(backend: &Backend, config: SimConfig) -> Self {
        let sim = SimNetwork::start(config)
            .await
            .expect("start the simulated network");
        let db = TestDb::create(backend).await;
        let pool = connect(&db.url).await;
        pool.migrate().await.expect("migrate");
        let collector = collector_for(&sim, &pool, &db.url);
        let conn = db.connect().await;
        let (stop_switch, stop) = watch::channel(false);
        Self {
            sim,
            db,
            collector,
            conn,
            stop,
            _stop_switch: stop_switch,
        }
    }

    /// Runs one cycle, which must happen (this is the only collector).
    pub async fn cycle(&mut self) -> CycleReport {
        let cycle = self.collector.run_cycle(&self.stop);
        tokio::time::timeout(Duration::from_secs(60), cycle)
            .await
            .expect("a cycle ends by its deadline")
            .expect("the cycle runs")
            .expect("this collector holds the lock")
    }

    /// `SELECT COUNT(*)` of `sql`'s rows.
    pub async fn count(&self, from_where: &str) -> i64 {
        scalar(
            &self.conn,
            &format!("SELECT COUNT(*) AS n FROM {from_where}"),
        )
        .await
    }

    /// Makes every node due for get-stats again and moves samples a minute into the past, as if
    /// a cycle interval had passed.
    pub async fn let_a_minute_pass(&self) {
        for sql in [
            "UPDATE pnodes SET next_stats_allowed_at = NULL",
            match self.conn.get_database_backend() {
                sea_orm::DbBackend::Postgres => {
                    "UPDATE pnode_stats_samples SET sampled_at = sampled_at - INTERVAL '60 seconds'"
                }
                _ => {
                    "UPDATE pnode_stats_samples SET sampled_at = strftime('%Y-%m-%dT%H:%M:%f+00:00', sampled_at, '-60 seconds')"
                }
            },
        ] {
            self.conn
                .execute_unprepared(sql)
                .await
                .expect("let time pass");
        }
        self.sim.tick();
    }
}

pub async fn connect(url: &str) -> Database {
    Database::connect(&DatabaseSettings {
        max_connections: Some(4),
        ..DatabaseSettings::for_url(url)
    })
    .await
    .expect("connect")
}

pub fn collector_for(sim: &SimNetwork, pool: &Database, url: &str) -> Collector {
    let seeds = sim
        .seed_urls()
        .join(",")
        .parse()
        .expect("the sim's seeds are valid");
    Collector::new(pool.clone(), &seeds, fast_settings(), url)
}

pub async fn scalar(conn: &DatabaseConnection, sql: &str) -> i64 {
    let row = conn
        .query_one_raw(Statement::from_string(
            conn.get_database_backend(),
            sql.to_owned(),
        ))
        .await
        .expect("query")
        .expect("a row");
    row.try_get("", "n").expect("n")
}
