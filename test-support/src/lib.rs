//! The one test-database harness of the workspace, for the library's tests and the integration
//! tests alike: a database that exists only for one test, a temp-file SQLite or a PostgreSQL
//! database created with a random name (and dropped, connections and all, when the test ends),
//! and [`on_both_backends!`], which runs a test once on each.

#![allow(clippy::expect_used, clippy::unwrap_used)] // A test that cannot proceed should panic.

use std::path::PathBuf;

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection};

/// Where PostgreSQL tests find a server: a URL with a user allowed to create databases.
pub const POSTGRES_URL_VAR: &str = "PNODE_TEST_POSTGRES_URL";

/// Runs each listed `async fn name(backend: Backend)` once on SQLite and once on PostgreSQL, as
/// `sqlite::name` and `postgres::name`, each on a 2-thread runtime.
#[macro_export]
macro_rules! on_both_backends {
    ($($test:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test($crate::Backend::Sqlite).await
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    if let Some(backend) = $crate::Backend::postgres() {
                        super::$test(backend).await
                    }
                }
            )+
        }
    };
}

/// Which database a test runs on.
#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    /// The server's admin URL, from `PNODE_TEST_POSTGRES_URL`.
    Postgres(String),
}

impl Backend {
    /// PostgreSQL when `PNODE_TEST_POSTGRES_URL` is set. Unset, the test says it is skipped,
    /// except under `CI=true`, where a missing PostgreSQL is a failure.
    pub fn postgres() -> Option<Self> {
        match std::env::var(POSTGRES_URL_VAR) {
            Ok(url) if !url.is_empty() => Some(Self::Postgres(url)),
            _ if std::env::var("CI").is_ok_and(|ci| ci == "true") => {
                panic!(
                    "{POSTGRES_URL_VAR} must be set under CI=true: PostgreSQL tests may not be skipped"
                )
            }
            _ => {
                eprintln!(
                    "skipped: {POSTGRES_URL_VAR} is unset, so this PostgreSQL case did not run"
                );
                None
            }
        }
    }
}

/// A database that exists only for one test (see the crate's documentation).
#[derive(Debug)]
pub struct TestDb {
    pub url: String,
    place: Place,
}

#[derive(Debug)]
enum Place {
    /// Kept for its lifetime: the directory goes when the test ends.
    Sqlite {
        dir: tempfile::TempDir,
    },
    Postgres {
        admin_url: String,
        name: String,
    },
}

impl TestDb {
    /// Creates the database (empty: the caller migrates it).
    pub async fn create(backend: &Backend) -> Self {
        match backend {
            Backend::Sqlite => Self::sqlite_in(&std::env::temp_dir()),
            Backend::Postgres(admin_url) => {
                let name = format!("pnode_test_{}", uuid::Uuid::new_v4().simple());
                let admin = Database::connect(admin_url.as_str())
                    .await
                    .unwrap_or_else(|err| {
                        panic!("PostgreSQL at {POSTGRES_URL_VAR}={admin_url} is unreachable: {err}")
                    });
                admin
                    .execute_unprepared(&format!(r#"CREATE DATABASE "{name}""#))
                    .await
                    .expect("create the test database");
                admin.close().await.expect("close the admin connection");
                Self {
                    url: with_database(admin_url, &name),
                    place: Place::Postgres {
                        admin_url: admin_url.clone(),
                        name,
                    },
                }
            }
        }
    }

    /// A SQLite database in a directory of its own under `parent` (a file system a test made).
    pub fn sqlite_in(parent: &std::path::Path) -> Self {
        let dir = tempfile::tempdir_in(parent).expect("temp dir");
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("pnodes.db").display()
        );
        Self {
            url,
            place: Place::Sqlite { dir },
        }
    }

    /// The SQLite file, for tests that take it away.
    pub fn sqlite_file(&self) -> Option<PathBuf> {
        match &self.place {
            Place::Sqlite { dir } => Some(dir.path().join("pnodes.db")),
            Place::Postgres { .. } => None,
        }
    }

    /// The PostgreSQL database's name and a connection to the server outside it.
    pub async fn postgres_admin(&self) -> Option<(String, DatabaseConnection)> {
        match &self.place {
            Place::Postgres { admin_url, name } => {
                let admin = Database::connect(admin_url.as_str())
                    .await
                    .expect("admin connection");
                Some((name.clone(), admin))
            }
            Place::Sqlite { .. } => None,
        }
    }

    /// A pool of its own on the test database, outside the code under test. It has no idle
    /// reaper: sqlx's reaper task can spin while a test's runtime shuts down with the pool still
    /// open, and hang the test binary.
    pub async fn connect(&self) -> DatabaseConnection {
        let mut options = ConnectOptions::new(self.url.as_str());
        options
            .idle_timeout(None)
            .max_lifetime(None)
            .sqlx_logging(false);
        Database::connect(options)
            .await
            .expect("connect to the test database")
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
                let admin = Database::connect(admin_url.as_str()).await?;
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
pub fn with_database(url: &str, name: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_database_replaces_only_the_database() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
    }
}
