//! The database: one pool for the process, SQLite or PostgreSQL by URL.

pub(crate) mod health;
pub(crate) mod newest;
pub mod settings;
pub mod version;

use std::{
    future::Future,
    path::{Path, PathBuf},
    str::FromStr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, Database as SeaDatabase, DatabaseConnection, DbBackend, DbErr,
    sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous},
};

use self::health::{FileProblem, SqliteFile};
use crate::db::settings::DatabaseSettings;

/// Rows (or keys) one statement carries at most: SQLite binds at most 32,766 values, and the
/// widest row written here has 18 columns.
pub const ROWS_PER_STATEMENT: usize = 1000;

/// How long SQLite waits on a lock held by another connection before it reports "database is locked".
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

tokio::task_local! {
    /// The counter of the request (or other unit of work) whose statements are being counted.
    static COUNTING: StatementCounter;
}

/// Counts the statements run by the futures given to [`StatementCounter::count`], whatever other
/// tasks do on the same pool meanwhile. (SeaORM calls its metric callback in the task that ran the
/// statement, so a task-local tells whose statement it was.)
#[derive(Debug, Clone, Default)]
pub struct StatementCounter(Arc<AtomicU64>);

impl StatementCounter {
    /// Runs `work`, counting its statements on this counter.
    pub async fn count<F: Future>(&self, work: F) -> F::Output {
        COUNTING.scope(self.clone(), work).await
    }

    /// Statements counted so far.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// The pool's connections now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// Connections open (idle or in use) or being opened.
    pub open: u32,
    pub idle: u32,
    /// Most connections the pool may open.
    pub max: u32,
}

/// The connection pool and what is needed to tell whether the database is really there.
#[derive(Debug, Clone)]
pub struct Database {
    conn: DatabaseConnection,
    /// The SQLite file, when there is one: a file removed or replaced under a running process
    /// keeps answering queries from the old inode, whose writes will be lost, so readiness and
    /// the collector check it is still there.
    sqlite_file: Option<SqliteFile>,
    /// Statements SeaORM has executed on this pool (its metric callback counts them).
    statements: Arc<AtomicU64>,
    /// When a statement last succeeded: milliseconds after `epoch`, plus one (0: never).
    last_answer: Arc<AtomicU64>,
    epoch: Instant,
    acquire_timeout: Duration,
    /// On SQLite, whose turn it is to write (see [`Database::write_turn`]).
    writes: Arc<tokio::sync::Mutex<()>>,
}

/// Why the database is not ready.
#[derive(Debug, thiserror::Error)]
pub enum NotReady {
    #[error("the database did not answer: {0}")]
    Unreachable(#[from] DbErr),
    #[error("the database did not answer within {0:?}")]
    TimedOut(Duration),
    #[error(transparent)]
    File(#[from] FileProblem),
}

impl Database {
    /// Opens the pool. SQLite is opened with WAL (readers never wait for the writer), foreign keys
    /// on (cascades are part of the schema), a busy timeout and the configured page cache.
    #[tracing::instrument(level = "debug", name = "connect to the database", skip_all)]
    pub async fn connect(settings: &DatabaseSettings) -> Result<Self, DbErr> {
        // Negative: a size in KiB rather than in pages.
        let cache_size = format!("-{}", settings.sqlite_cache_kib);
        let mut options = ConnectOptions::new(settings.url());
        options
            .max_connections(settings.max_connections())
            .acquire_timeout(settings.acquire_timeout)
            .connect_timeout(settings.acquire_timeout)
            .sqlx_logging(false);
        if settings.is_sqlite() {
            // An embedded file holds no server resources to free: reaping idle or old connections
            // would only reopen them, cold, so the pool runs no reaper task. Connections open as
            // queries need them.
            options.idle_timeout(None).max_lifetime(None);
        } else {
            options.min_connections(1);
        }
        // A connection handed back to the pool inside a transaction would keep SQLite's write lock
        // for ever (every other writer then gets "database is locked"), and its next writes would
        // never be committed. That happens when a COMMIT or ROLLBACK fails, as on a full disk:
        // such a connection is closed instead (closing rolls its transaction back), and the pool
        // opens a fresh one when needed. A transaction dropped unfinished has its ROLLBACK queued
        // on the connection's worker, not yet run: a ping, queued behind it, waits for it first.
        options.map_sqlx_sqlite_pool_opts(|pool| {
            pool.after_release(|conn, _| {
                Box::pin(async move {
                    use sea_orm::sqlx::Connection as _;
                    if conn.is_in_transaction() {
                        conn.ping().await?;
                    }
                    let in_transaction = conn.is_in_transaction();
                    if in_transaction {
                        tracing::warn!("closing a SQLite connection left inside a transaction");
                    }
                    Ok(!in_transaction)
                })
            })
        });
        options.map_sqlx_sqlite_opts(move |opts| {
            // WAL is set once, before the pool opens (see `switch_to_wal`), not by every connection.
            opts.synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
                .pragma("cache_size", cache_size.clone())
        });
        if let Some(file) = sqlite_file(settings.url()) {
            let refused = |why| DbErr::Conn(sea_orm::RuntimeErr::Internal(why));
            health::check_directory(&file).map_err(refused)?;
            switch_to_wal(&file)
                .await
                .map_err(|err| refused(health::cannot_open(&file, err)))?;
        }
        let mut conn = SeaDatabase::connect(options).await?;
        let statements = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&statements);
        let last_answer = Arc::new(AtomicU64::new(0));
        let answered = Arc::clone(&last_answer);
        let epoch = Instant::now();
        conn.set_metric_callback(move |info| {
            if !info.failed {
                answered.store(millis_since(epoch) + 1, Ordering::Relaxed);
            }
            counter.fetch_add(1, Ordering::Relaxed);
            let _outside_any_count =
                COUNTING.try_with(|count| count.0.fetch_add(1, Ordering::Relaxed));
        });
        Ok(Self {
            conn,
            sqlite_file: sqlite_file(settings.url()).map(SqliteFile::opened),
            statements,
            last_answer,
            epoch,
            acquire_timeout: settings.acquire_timeout,
            writes: Arc::default(),
        })
    }

    /// On SQLite, the turn to write, held for one write transaction: the process's collectors
    /// (one per network) write one at a time, since SQLite in WAL mode fails a transaction that
    /// read before another's commit and then writes (`SQLITE_BUSY`) instead of waiting. `None` on
    /// PostgreSQL, which needs none.
    pub async fn write_turn(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match self.backend() {
            DbBackend::Postgres => None,
            _ => Some(self.writes.lock().await),
        }
    }

    /// The SeaORM connection, for queries.
    pub fn conn(&self) -> &DatabaseConnection {
        &self.conn
    }

    /// Whether a statement succeeded within the last acquire timeout: a pool that timed out while
    /// others got answers is congested, not cut off from its database.
    pub fn answered_recently(&self) -> bool {
        let last = self.last_answer.load(Ordering::Relaxed);
        last != 0
            && millis_since(self.epoch).saturating_sub(last - 1)
                <= u64::try_from(self.acquire_timeout.as_millis()).unwrap_or(u64::MAX)
    }

    /// Statements executed through this pool since it opened.
    pub fn statements_executed(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// How many connections are open and idle.
    pub fn pool_stats(&self) -> PoolStats {
        let (open, idle, max) = match self.backend() {
            DbBackend::Postgres => {
                let pool = self.conn.get_postgres_connection_pool();
                (
                    pool.size(),
                    pool.num_idle(),
                    pool.options().get_max_connections(),
                )
            }
            _ => {
                let pool = self.conn.get_sqlite_connection_pool();
                (
                    pool.size(),
                    pool.num_idle(),
                    pool.options().get_max_connections(),
                )
            }
        };
        PoolStats {
            open,
            idle: u32::try_from(idle).unwrap_or(u32::MAX),
            max,
        }
    }

    /// Which kind of database this is.
    pub fn backend(&self) -> DbBackend {
        self.conn.get_database_backend()
    }

    /// Connects, applies every pending migration, then opens the pool anew for the service. A
    /// connection open while the schema changed can keep the old one: seen on SQLite, an
    /// `INSERT … RETURNING` of a row read back without a column a migration had just added.
    pub async fn connect_migrated(settings: &DatabaseSettings) -> Result<Self, DbErr> {
        let db = Self::connect(settings).await?;
        let network = settings.default_network.as_ref().map(ToString::to_string);
        migration::with_default_network(network, db.migrate()).await?;
        db.close().await?;
        Self::connect(settings).await
    }

    /// Applies every pending migration (rows from before networks, if any, are refused: see
    /// [`Database::connect_migrated`]).
    #[tracing::instrument(level = "debug", name = "apply pending migrations", skip_all)]
    pub async fn migrate(&self) -> Result<(), DbErr> {
        Migrator::up(&self.conn, None).await
    }

    /// Answers whether the database can serve a query now, within `timeout`.
    pub async fn check_ready(&self, timeout: Duration) -> Result<(), NotReady> {
        self.check_file()?;
        tokio::time::timeout(timeout, self.conn.ping())
            .await
            .map_err(|_| NotReady::TimedOut(timeout))??;
        Ok(())
    }

    /// For SQLite, whether the file at the database's path is still the one the pool opened.
    pub fn check_file(&self) -> Result<(), FileProblem> {
        self.sqlite_file.as_ref().map_or(Ok(()), SqliteFile::check)
    }

    /// Closes every connection of the pool, waiting for those in use to be returned.
    pub async fn close(self) -> Result<(), DbErr> {
        self.conn.close().await
    }
}

/// Whether `err` says the database cannot be reached or used now (no connection, a connection
/// lost, a server shutting down or starting, a file locked), rather than that a statement is
/// wrong: the first is worth retrying later (503), the second is a bug (500).
pub fn is_unavailable(err: &DbErr) -> bool {
    use sea_orm::{RuntimeErr, sqlx::Error};
    let sqlx = match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => return true,
        DbErr::Exec(RuntimeErr::SqlxError(sqlx)) | DbErr::Query(RuntimeErr::SqlxError(sqlx)) => {
            sqlx
        }
        _ => return false,
    };
    match sqlx.as_ref() {
        Error::Io(_)
        | Error::Tls(_)
        | Error::PoolTimedOut
        | Error::PoolClosed
        | Error::WorkerCrashed => true,
        Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            // PostgreSQL: class 08 (connection exception), 57P01-57P03 (shutting down, cannot
            // connect now), 53300 (too many connections). SQLite: 5 (busy), 6 (locked).
            code.starts_with("08")
                || code.starts_with("57P")
                || code == "53300"
                || code == "5"
                || code == "6"
        }
        _ => false,
    }
}

fn millis_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Whether `err` says the database cannot be reached at all (refused, lost, shutting down), not
/// that it is busy: a connection failed or was cut, or the pool timed out and no statement had
/// succeeded within its acquire timeout (`answered_recently`: see `Database::answered_recently`).
pub fn is_unreachable(err: &DbErr, answered_recently: bool) -> bool {
    use sea_orm::{RuntimeErr, sqlx::Error};
    let sqlx = match err {
        DbErr::Conn(_) => return true,
        DbErr::ConnectionAcquire(_) => return !answered_recently,
        DbErr::Exec(RuntimeErr::SqlxError(sqlx)) | DbErr::Query(RuntimeErr::SqlxError(sqlx)) => {
            sqlx
        }
        _ => return false,
    };
    match sqlx.as_ref() {
        Error::Io(_) | Error::Tls(_) | Error::PoolClosed | Error::WorkerCrashed => true,
        Error::PoolTimedOut => !answered_recently,
        Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            code.starts_with("08") || code.starts_with("57P")
        }
        _ => false,
    }
}

/// Puts the SQLite file (created if missing) in WAL mode, on one connection of its own, and makes
/// sure it can be written (SQLite opens a file it may not write read-only, without a word). WAL is
/// a property of the file, so the pool's connections need not set it; and they must not: SQLite
/// does not run the busy handler for `PRAGMA journal_mode = WAL`, so connections opening together
/// can fail at once with "database is locked".
async fn switch_to_wal(file: &Path) -> Result<(), sea_orm::sqlx::Error> {
    use sea_orm::sqlx::{ConnectOptions as _, Connection as _, Executor as _};
    let mut conn = SqliteConnectOptions::new()
        .filename(file)
        .create_if_missing(true)
        .busy_timeout(SQLITE_BUSY_TIMEOUT)
        .journal_mode(SqliteJournalMode::Wal)
        .connect()
        .await?;
    // Takes the write lock without writing, and gives it back.
    conn.execute("BEGIN IMMEDIATE").await?;
    conn.execute("ROLLBACK").await?;
    conn.close().await
}

/// The file behind a SQLite URL, or `None` for PostgreSQL and in-memory SQLite.
fn sqlite_file(url: &str) -> Option<PathBuf> {
    let in_memory = url.contains(":memory:") || url.contains("mode=memory");
    if !url.starts_with("sqlite:") || in_memory {
        return None;
    }
    let options = SqliteConnectOptions::from_str(url).ok()?;
    let file: &Path = options.get_filename();
    Some(file.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sqlite_url_names_its_file() {
        assert_eq!(
            sqlite_file("sqlite://pnodes.db?mode=rwc"),
            Some(PathBuf::from("pnodes.db"))
        );
        assert_eq!(
            sqlite_file("sqlite:///var/lib/pnode/p.db"),
            Some(PathBuf::from("/var/lib/pnode/p.db"))
        );
    }

    #[test]
    fn postgres_and_memory_urls_have_no_file() {
        assert_eq!(sqlite_file("postgres://postgres@127.0.0.1/test"), None);
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(
            sqlite_file("sqlite://shared?mode=memory&cache=shared"),
            None
        );
    }
}
