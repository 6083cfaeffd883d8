//! Only one replica collects a network at a time: on PostgreSQL, whoever holds that network's
//! session advisory lock on a dedicated connection. The lock goes with the connection, so when the holder dies another
//! replica takes over at its next try. SQLite serves one process, which always collects.

use crate::domain::{
    network::Network,
    secret::{ExposeSecret, SecretString},
};
use sea_orm::{
    DbBackend,
    sqlx::{self, Connection, PgConnection},
};

/// The first half of every advisory lock key: any constant shared by every replica ("pnod" in
/// ASCII); the second is the network's [`network_key`].
const LOCK_CLASS: i32 = 0x706e_6f64;

/// A network's half of its lock key: FNV-1a of its name (stable across builds and replicas).
fn network_key(network: &Network) -> i32 {
    let hash = network
        .as_str()
        .bytes()
        .fold(0x811c_9dc5_u32, |hash, byte| {
            (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
        });
    i32::from_ne_bytes(hash.to_ne_bytes())
}

/// Whether this process may collect, re-checked before every cycle.
#[derive(Debug)]
pub(super) struct Leadership {
    /// The database URL, password included.
    url: Option<SecretString>,
    network: Network,
    held: Option<PgConnection>,
}

impl Leadership {
    pub(super) fn new(backend: DbBackend, url: &str, network: &Network) -> Self {
        Self {
            url: (backend == DbBackend::Postgres).then(|| SecretString::from(url)),
            network: network.clone(),
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
        let taken: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, $2)")
            .bind(LOCK_CLASS)
            .bind(network_key(&self.network))
            .fetch_one(&mut conn)
            .await?;
        if taken {
            tracing::info!(network = %self.network, "this replica now collects the network");
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
