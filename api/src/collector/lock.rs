//! Only one replica collects at a time: on PostgreSQL, whoever holds a session advisory lock on a
//! dedicated connection. The lock goes with the connection, so when the holder dies another
//! replica takes over at its next try. SQLite serves one process, which always collects.

use crate::domain::secret::{ExposeSecret, SecretString};
use sea_orm::{
    DbBackend,
    sqlx::{self, Connection, PgConnection},
};

/// The advisory lock key: any constant shared by every replica ("pnodecol" in ASCII).
const LOCK_KEY: i64 = 0x706e_6f64_6563_6f6c;

/// Whether this process may collect, re-checked before every cycle.
#[derive(Debug)]
pub(super) struct Leadership {
    /// The database URL, password included.
    url: Option<SecretString>,
    held: Option<PgConnection>,
}

impl Leadership {
    pub(super) fn new(backend: DbBackend, url: &str) -> Self {
        Self {
            url: (backend == DbBackend::Postgres).then(|| SecretString::from(url)),
            held: None,
        }
    }

    /// True when this process holds (or has just taken) the lock, or needs none.
    pub(super) async fn acquire(&mut self) -> Result<bool, sqlx::Error> {
        let Some(url) = &self.url else {
            return Ok(true);
        };
        if let Some(conn) = &mut self.held {
            if conn.ping().await.is_ok() {
                return Ok(true);
            }
            tracing::warn!("lost the collector lock's connection; trying to take the lock again");
            self.held = None;
        }
        let mut conn = PgConnection::connect(url.expose_secret()).await?;
        let taken: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(LOCK_KEY)
            .fetch_one(&mut conn)
            .await?;
        if taken {
            tracing::info!("this replica now collects");
            self.held = Some(conn);
        } else {
            conn.close().await?;
        }
        Ok(taken)
    }

    /// Lets another replica take over.
    pub(super) async fn release(&mut self) {
        if let Some(conn) = self.held.take() {
            let _ = conn.close().await;
        }
    }
}
