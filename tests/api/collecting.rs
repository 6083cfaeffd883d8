//! A simulated network on loopback, a fresh migrated database, and a collector between them.

use std::{sync::Arc, time::Duration};

use pnode_api::{
    collector::{
        Clock, Collector, CycleReport,
        settings::{CollectorSettings, sources},
    },
    db::{Database, settings::DatabaseSettings},
    domain::network::Network,
    history::status::{self, IngestionStatus},
    net::http::Outbound,
};
use pnode_tools::sim::{SimConfig, SimNetwork};
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
        // The simulated pods are on loopback, which `public` refuses.
        stats_targets: "127.0.0.0/8".parse().expect("a CIDR"),
        ..CollectorSettings::default()
    }
}

pub struct Rig {
    pub sim: SimNetwork,
    pub db: Arc<TestDb>,
    pub collector: Collector,
    /// The collector's clock, moved ahead by [`Rig::let_a_minute_pass`].
    pub clock: Clock,
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
        let db = Arc::new(TestDb::create(backend).await);
        let pool = migrated(&db.url).await;
        let clock = Clock::default();
        let collector = collector_for(&sim, &pool, &db.url).with_clock(clock.clone());
        let conn = db.connect().await;
        let (stop_switch, stop) = watch::channel(false);
        Self {
            sim,
            db,
            collector,
            clock,
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

    /// What `/api/ingestion-status` reports for all seeds now.
    pub async fn status(&self) -> IngestionStatus {
        let stale_before = chrono::Utc::now() - chrono::Duration::hours(1);
        status::status(
            &self.conn,
            None,
            &[Network::default_network()],
            stale_before,
        )
        .await
        .expect("the status")
    }

    /// A minute passes: the collector's clock moves ahead by 60 s and the simulated network
    /// ticks. Nothing in the database is touched.
    pub async fn let_a_minute_pass(&self) {
        self.clock.advance(Duration::from_secs(60));
        self.sim.tick();
    }
}

/// A pool on `url` after the migrations (see `Database::connect_migrated`).
pub async fn migrated(url: &str) -> Database {
    Database::connect_migrated(&DatabaseSettings {
        max_connections: Some(4),
        ..DatabaseSettings::for_url(url)
    })
    .await
    .expect("connect and migrate")
}

pub async fn connect(url: &str) -> Database {
    Database::connect(&DatabaseSettings {
        max_connections: Some(4),
        ..DatabaseSettings::for_url(url)
    })
    .await
    .expect("connect")
}

/// The collector of the sim's seeds, all on the default network (with the credits source of
/// `fast_settings`, if any).
pub fn collector_for(sim: &SimNetwork, pool: &Database, url: &str) -> Collector {
    let seeds = sim
        .seed_urls()
        .join(",")
        .parse()
        .expect("the sim's seeds are valid");
    let settings = fast_settings();
    let mut networks =
        sources(&seeds, &settings.credits_url, &Network::default_network()).expect("one network");
    let outbound = Outbound::web_roots().expect("TLS");
    Collector::new(pool.clone(), networks.remove(0), settings, &outbound, url).expect("collector")
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
