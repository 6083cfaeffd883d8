//! The app spawned over a fresh database. Databases, and the macro that runs a test on both
//! backends, come from the shared harness (`test-support`).

use std::time::Duration;

use pnode_api::{config::Settings, startup::Application};
pub use test_support::{Backend, TestDb};

/// The app serving on a random port over its own fresh database.
#[derive(Debug)]
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub db: TestDb,
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
    let db = TestDb::create(backend).await;
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
