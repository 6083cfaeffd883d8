//! A migrated database per test: a temp-file SQLite, or a PostgreSQL database created with a
//! unique name (when `PNODE_TEST_POSTGRES_URL` is set) and dropped afterwards.

use std::sync::atomic::{AtomicU64, Ordering};

use sea_orm::ConnectionTrait;

use crate::{config::DatabaseSettings, db::Database};

/// Where PostgreSQL cases find a server: a URL with a user allowed to create databases.
const POSTGRES_URL_VAR: &str = "PNODE_TEST_POSTGRES_URL";

/// Runs each listed `async fn name(test: TestDb)` on SQLite and on PostgreSQL, as
/// `sqlite::name` and `postgres::name`.
macro_rules! on_both_backends {
    ($($test:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $test() {
                    super::$test(crate::credits::tests::db::TestDb::sqlite().await).await
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $test() {
                    if let Some(test) = crate::credits::tests::db::TestDb::postgres().await {
                        super::$test(test).await
                    }
                }
            )+
        }
    };
}
pub(super) use on_both_backends;

/// A migrated database that exists only for one test.
#[derive(Debug)]
pub struct TestDb {
    pub db: Database,
    place: Place,
}

#[derive(Debug)]
enum Place {
    /// Kept for its lifetime: the directory goes when the test ends.
    Sqlite {
        _dir: tempfile::TempDir,
    },
    Postgres {
        admin_url: String,
        name: String,
    },
}

impl TestDb {
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("pnodes.db").display()
        );
        Self::open(&url, Place::Sqlite { _dir: dir }).await
    }

    /// `None` (the case says it is skipped) without `PNODE_TEST_POSTGRES_URL`, except under
    /// `CI=true`, where a missing PostgreSQL is a failure.
    pub async fn postgres() -> Option<Self> {
        let admin_url = match std::env::var(POSTGRES_URL_VAR) {
            Ok(url) if !url.is_empty() => url,
            _ if std::env::var("CI").is_ok_and(|ci| ci == "true") => {
                panic!("{POSTGRES_URL_VAR} must be set under CI=true")
            }
            _ => {
                eprintln!(
                    "skipped: {POSTGRES_URL_VAR} is unset, so this PostgreSQL case did not run"
                );
                return None;
            }
        };
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default();
        let name = format!(
            "pnode_credits_test_{}_{nanos}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let admin = sea_orm::Database::connect(admin_url.as_str())
            .await
            .expect("PostgreSQL at PNODE_TEST_POSTGRES_URL");
        admin
            .execute_unprepared(&format!(r#"CREATE DATABASE "{name}""#))
            .await
            .expect("create the test database");
        admin.close().await.expect("close the admin connection");
        let url = with_database(&admin_url, &name);
        Some(Self::open(&url, Place::Postgres { admin_url, name }).await)
    }

    async fn open(url: &str, place: Place) -> Self {
        let settings = DatabaseSettings {
            max_connections: Some(2),
            ..DatabaseSettings::for_url(url)
        };
        let db = Database::connect(&settings).await.expect("connect");
        db.migrate().await.expect("migrate");
        Self { db, place }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Place::Postgres { admin_url, name } = &self.place else {
            return;
        };
        let (admin_url, name) = (admin_url.clone(), name.clone());
        // Drop runs inside the test's runtime, which cannot block on itself: use a thread.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                let admin = sea_orm::Database::connect(admin_url.as_str()).await?;
                admin
                    .execute_unprepared(&format!(
                        r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#
                    ))
                    .await?;
                admin.close().await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database: {dropped:?}");
        }
    }
}

/// `postgres://user@host:port/db?x` with its database replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let authority_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_end..].find('/') {
        Some(slash) => &base[..authority_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}
