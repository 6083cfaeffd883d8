//! The app spawned over a fresh database. Databases, and the macro that runs a test on both
//! backends, come from the shared harness (`test-support`).

use std::{sync::Arc, time::Duration};

use pnode_api::app::{config::Settings, startup::Application};
use pnode_tools::generate::{Spec, generate};
pub use test_support::{Backend, TestDb};

/// A client for the tests' own requests: the service's outbound client (no proxy, no redirects,
/// TLS by rustls with ring, the process having no default crypto provider).
pub fn http() -> reqwest::ClientBuilder {
    pnode_api::net::http::Outbound::web_roots()
        .expect("TLS")
        .client()
}

/// `GET url` with a fresh [`http`] client.
pub async fn get(url: impl reqwest::IntoUrl) -> reqwest::Result<reqwest::Response> {
    http().build().expect("client").get(url).send().await
}

/// The app serving on a random port over its own fresh database.
#[derive(Debug)]
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub db: Arc<TestDb>,
    /// The app's own pool, for its statement counter.
    pub app_db: pnode_api::db::Database,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }

    /// GETs `path`, expecting 200 and JSON.
    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        let response = self.get(path).await;
        let status = response.status();
        let body = response.text().await.expect("body");
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body)
            .unwrap_or_else(|err| panic!("GET {path}: not JSON ({err}): {body}"))
    }

    /// Waits (at most 30 s) until the app's own collector has finished a cycle: gossip is written
    /// before get-stats, so the view alone would show a half-done first cycle.
    pub async fn wait_for_a_cycle(&self) {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let status = self.get_json("/api/ingestion-status").await;
            if status["lastRunFinishedAt"].is_string() {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no cycle finished: {status}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Statements the app has executed so far.
    pub fn statements(&self) -> u64 {
        self.app_db.statements_executed()
    }
}

/// A small tmpfs of its own, mounted for a test that fills or freezes a file system, unmounted
/// when dropped. Mounting needs root (CI runs as root); elsewhere the test says it is skipped,
/// and under `CI=true` it fails instead.
#[derive(Debug)]
pub struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    pub fn mount(size: &str) -> Option<Self> {
        let dir = tempfile::tempdir().expect("temp dir");
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|status| status.success());
        if mounted {
            return Some(Self { dir });
        }
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "under CI=true, mounting a tmpfs must work (run as root)"
        );
        eprintln!("skipped: cannot mount a tmpfs (not root?)");
        None
    }

    pub fn path(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Remounts it with `options` (e.g. `ro`, `rw`, `size=64m`).
    pub fn remount(&self, options: &str) {
        let status = std::process::Command::new("mount")
            .args(["-o", &format!("remount,{options}")])
            .arg(self.dir.path())
            .status()
            .expect("run mount");
        assert!(status.success(), "remount {options}");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Creates a fresh database for `backend`, runs the real migrations and serves the real app on
/// 127.0.0.1 with a random port.
pub async fn spawn_app(backend: &Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

/// As [`spawn_app`], with settings changed by `configure` first.
pub async fn spawn_app_with(backend: &Backend, configure: impl FnOnce(&mut Settings)) -> TestApp {
    let db = Arc::new(TestDb::create(backend).await);
    spawn_app_on(&db, configure).await
}

/// Another app over the database of an app already running (a replica), with settings changed
/// by `configure`. The database goes when the last app over it is dropped.
pub async fn spawn_app_on(db: &Arc<TestDb>, configure: impl FnOnce(&mut Settings)) -> TestApp {
    let db = Arc::clone(db);
    let mut settings = Settings::with_database_url(db.url.clone());
    settings.database.max_connections = Some(4);
    // No rate limit unless the test sets one; stats from the simulated pods, on loopback.
    settings.http.rate_limit = pnode_api::web::ratelimit::RateLimit::OFF;
    settings.collector.stats_targets = "127.0.0.0/8".parse().expect("a CIDR");
    configure(&mut settings);
    let app = Application::build(&settings).await.expect("build the app");
    let app_db = app.database().clone();
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    // As a browser does, it follows redirects (`/docs` to `/docs/`).
    let client = crate::helpers::http()
        .redirect(reqwest::redirect::Policy::limited(3))
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    TestApp {
        address,
        client,
        db,
        app_db,
    }
}

/// Fills the app's database with a synthetic network of `nodes` nodes (2 observations and 2
/// stats samples each, 3 seeds), as `pnode-api generate` does.
pub async fn some_network(app: &TestApp, nodes: u32) {
    let spec = Spec {
        nodes,
        observations_per_node: 2,
        samples_per_node: 2,
        seeds: 3,
        random_seed: 11,
    };
    generate(&app.db.connect().await, spec, crate::fixtures::now())
        .await
        .expect("generate");
}

/// A PostgreSQL cluster of the test's own on a free loopback port (`pg_createcluster`), for tests
/// that stop and start a database server: never the shared one. Dropped (stopped and removed) when
/// the test ends. Making one needs root and postgresql-common; elsewhere the test says it is
/// skipped, and under `CI=true` it fails instead.
#[derive(Debug)]
pub struct PgCluster {
    version: String,
    name: String,
    pub port: u16,
}

impl PgCluster {
    pub fn create() -> Option<Self> {
        let version = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
            .max()
            .map(|version| version.to_string());
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let name = format!(
            "pnode_test_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        let created = version.as_ref().is_some_and(|version| {
            std::process::Command::new("pg_createcluster")
                .args([
                    version,
                    &name,
                    "-p",
                    &port.to_string(),
                    "--start-conf=manual",
                ])
                .args(["--", "--auth=trust"])
                .stdout(std::process::Stdio::null())
                .status()
                .is_ok_and(|status| status.success())
        });
        if let (true, Some(version)) = (created, version) {
            // Dropped (stopped and removed) from here on, whatever happens next.
            let cluster = Self {
                version,
                name,
                port,
            };
            cluster.ctl("start");
            return Some(cluster);
        }
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "under CI=true, pg_createcluster must work (run as root with postgresql-common)"
        );
        eprintln!("skipped: cannot create a PostgreSQL cluster of the test's own");
        None
    }

    /// The admin URL, for `Backend::Postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// `pg_ctlcluster <version> <name> <action>` (`stop` is a fast shutdown: sessions are cut).
    pub fn ctl(&self, action: &str) {
        let mut command = std::process::Command::new("pg_ctlcluster");
        command.args([&self.version, &self.name, action]);
        if action == "stop" {
            command.args(["-m", "fast"]);
        }
        let status = command.status().expect("run pg_ctlcluster");
        assert!(status.success(), "pg_ctlcluster {action}");
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = std::process::Command::new("pg_dropcluster")
            .args([&self.version, &self.name, "--stop"])
            .status();
    }
}

/// Collection cycles of `app` that ended with `outcome` (`finished`, `failed`) so far.
pub async fn cycles(app: &TestApp, outcome: &str) -> f64 {
    crate::metrics::value(
        &crate::metrics::scrape(app).await,
        "pnode_collector_cycles_total",
        &[("outcome", outcome)],
    )
}

/// Waits (60 s at most, checking every 200 ms) until `done` holds, failing with `what` if not.
pub async fn wait_until<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !done().await {
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: not within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
