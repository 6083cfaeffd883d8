//! The app spawned over a fresh database. Databases, and the macro that runs a test on both
//! backends, come from the shared harness (`test-support`).

use std::{sync::Arc, time::Duration};

use pnode_api::{
    config::Settings,
    startup::Application,
    tools::generate::{Spec, generate},
};
pub use test_support::{Backend, TestDb};

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
    configure(&mut settings);
    let app = Application::build(&settings).await.expect("build the app");
    let app_db = app.database().clone();
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    let client = reqwest::Client::builder()
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
