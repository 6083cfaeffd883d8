//! Readiness follows the database: 503 while it is gone, 200 again once it is back, no restart.

use std::time::{Duration, Instant};

use sea_orm::ConnectionTrait;

use crate::helpers::{Backend, TestApp, spawn_app};

on_both_backends!(ready_turns_503_when_the_database_is_gone_and_recovers);

async fn ready_turns_503_when_the_database_is_gone_and_recovers(backend: Backend) {
    let app = spawn_app(&backend).await;
    assert_eq!(app.get("/api/ready").await.status(), 200);

    let outage = Outage::start(&app).await;
    let response = app.get("/api/ready").await;
    assert_eq!(response.status(), 503);
    let body: serde_json::Value = response.json().await.expect("a JSON body");
    assert_eq!(body["code"], "unavailable", "{body}");
    assert_eq!(
        app.get("/api/health").await.status(),
        200,
        "liveness ignores the database"
    );

    outage.end().await;
    wait_for_ready(&app).await;
}

/// Takes the test database away from the app: the SQLite file is moved aside; PostgreSQL refuses
/// new connections and ends the open ones.
enum Outage {
    Sqlite {
        file: std::path::PathBuf,
        aside: std::path::PathBuf,
    },
    Postgres {
        name: String,
        admin: sea_orm::DatabaseConnection,
    },
}

impl Outage {
    async fn start(app: &TestApp) -> Self {
        if let Some(file) = app.db.sqlite_file() {
            let aside = file.with_extension("aside");
            std::fs::rename(&file, &aside).expect("move the database file aside");
            return Self::Sqlite { file, aside };
        }
        let (name, admin) = app
            .db
            .postgres_admin()
            .await
            .expect("a PostgreSQL database");
        admin
            .execute_unprepared(&format!(
                r#"ALTER DATABASE "{name}" ALLOW_CONNECTIONS false"#
            ))
            .await
            .expect("refuse connections");
        admin
            .execute_unprepared(&format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
            ))
            .await
            .expect("end connections");
        Self::Postgres { name, admin }
    }

    async fn end(self) {
        match self {
            Self::Sqlite { file, aside } => std::fs::rename(aside, file).expect("move it back"),
            Self::Postgres { name, admin } => {
                admin
                    .execute_unprepared(&format!(
                        r#"ALTER DATABASE "{name}" ALLOW_CONNECTIONS true"#
                    ))
                    .await
                    .expect("allow connections");
                admin.close().await.expect("close");
            }
        }
    }
}

/// The pool reconnects on its own; give it a few probes.
async fn wait_for_ready(app: &TestApp) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = app.get("/api/ready").await.status();
        if status == 200 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "ready stayed {status} after the database came back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
