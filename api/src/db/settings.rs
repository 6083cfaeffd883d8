//! Where the data lives and how it is reached (part of `crate::app::config::Settings`).

use std::time::Duration;

use clap::Args;

use crate::domain::{
    network::Network,
    secret::{self, ExposeSecret, SecretString},
};

/// Where the data lives and how many connections may reach it.
#[derive(Debug, Clone, Args)]
pub struct DatabaseSettings {
    /// sqlite://FILE?mode=rwc (embedded, the default) or postgres://USER[:PASSWORD]@HOST/DB.
    /// Its value is never shown by `--help` nor written to the logs with its password.
    #[arg(
        long = "database-url",
        env = "DATABASE_URL",
        hide_env_values = true,
        default_value = "sqlite://pnodes.db?mode=rwc",
        value_parser = secret::parse,
        global = true
    )]
    pub url: SecretString,

    /// Most connections the pool opens (default: 4 on SQLite, 10 on PostgreSQL). Each SQLite
    /// connection keeps its own page cache, so SQLite's memory grows with this (BENCHMARKS.md).
    #[arg(
        long = "db-max-connections",
        env = "PNODE_DB_MAX_CONNECTIONS",
        global = true
    )]
    pub max_connections: Option<u32>,

    /// SQLite page cache per connection, in KiB. The view's working set is larger than any cache
    /// worth keeping, so pages come from the OS's file cache either way; a small one keeps RSS low.
    #[arg(
        long = "sqlite-cache-kib",
        env = "PNODE_SQLITE_CACHE_KIB",
        default_value_t = 256,
        global = true
    )]
    pub sqlite_cache_kib: u32,

    /// How long a query may wait for a free connection (or a new one) before it fails, e.g. "5s".
    #[arg(long = "db-acquire-timeout", env = "PNODE_DB_ACQUIRE_TIMEOUT", default_value = "5s", value_parser = humantime::parse_duration, global = true)]
    pub acquire_timeout: Duration,

    /// The network of seeds and credits sources whose entry names none (default: mainnet); also
    /// the network the upgrade to networks puts stored nodes on, where it must be set.
    #[arg(long = "default-network", env = "PNODE_DEFAULT_NETWORK", global = true)]
    pub default_network: Option<Network>,
}

impl DatabaseSettings {
    /// The pool size for SQLite when none is set: one writer and a few readers are all that 2
    /// cores keep busy, and every connection holds its own page cache.
    pub const SQLITE_MAX_CONNECTIONS: u32 = 4;
    pub const POSTGRES_MAX_CONNECTIONS: u32 = 10;

    /// `PNODE_DEFAULT_NETWORK`, else mainnet.
    pub fn default_network(&self) -> Network {
        self.default_network
            .clone()
            .unwrap_or_else(Network::default_network)
    }

    /// `url` with every other setting at its default.
    pub fn for_url(url: impl Into<String>) -> Self {
        Self {
            url: SecretString::from(url.into()),
            ..Default::default()
        }
    }

    /// Whether the URL names a SQLite database (file or memory).
    pub fn is_sqlite(&self) -> bool {
        self.url().starts_with("sqlite:")
    }

    /// The URL, password included: for connecting, never for showing.
    pub fn url(&self) -> &str {
        self.url.expose_secret()
    }

    /// The pool size: as set, or the default for the URL's kind of database.
    pub fn max_connections(&self) -> u32 {
        self.max_connections.unwrap_or(if self.is_sqlite() {
            Self::SQLITE_MAX_CONNECTIONS
        } else {
            Self::POSTGRES_MAX_CONNECTIONS
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pool_size_defaults_by_backend() {
        assert_eq!(
            DatabaseSettings::for_url("sqlite://pnodes.db?mode=rwc").max_connections(),
            4
        );
        assert_eq!(
            DatabaseSettings::for_url("postgres://postgres@127.0.0.1/test").max_connections(),
            10
        );
    }
}
