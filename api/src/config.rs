//! Command line and settings: one typed struct, every value from a flag or an environment variable,
//! each with a default that works on a laptop.

use std::{net::SocketAddr, time::Duration};

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::seeds::Seeds;

/// Collects the Xandeum pNode network and serves it as a JSON API.
#[derive(Debug, Parser)]
#[command(name = "pnode-api", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub settings: Settings,
    #[command(subcommand)]
    pub command: Command,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending migrations, then serve the API until SIGINT or SIGTERM.
    Serve,
    /// Measure the view: generate a network if the database is empty, start the server, drive it.
    Bench(crate::bench::BenchArgs),
    /// Fill the database with a deterministic synthetic network (for tests and benchmarks).
    Generate(crate::generate::Spec),
    /// Run collection cycles (with --once: one cycle, then exit) without serving the API.
    Collect {
        /// Run a single cycle, print what it did and exit.
        #[arg(long)]
        once: bool,
    },
    /// Manage the database schema.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
}

/// A schema operation.
#[derive(Debug, Subcommand)]
pub enum MigrateAction {
    /// Apply every pending migration.
    Up,
    /// Roll back the newest migrations.
    Down {
        /// How many migrations to roll back.
        #[arg(long, default_value_t = 1)]
        steps: u32,
    },
    /// List every migration and whether it is applied.
    Status,
    /// Drop every table, then apply every migration: all data is lost.
    Fresh,
}

/// Settings shared by every command.
#[derive(Debug, Clone, Args)]
pub struct Settings {
    #[command(flatten)]
    pub database: DatabaseSettings,

    /// Address the HTTP server listens on; port 0 picks a free port.
    #[arg(
        long = "bind",
        env = "PNODE_BIND",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub bind: SocketAddr,

    /// Seed nodes, comma-separated, each `http://host:port` or `NAME=http://host:port`.
    #[arg(
        id = "seed_urls",
        long = "seed-urls",
        env = "PNODE_SEEDS",
        default_value = "",
        global = true
    )]
    pub seeds: Seeds,

    /// HTTP worker threads (default: one per CPU core).
    #[arg(long, env = "PNODE_WORKERS", global = true)]
    pub workers: Option<usize>,

    /// On SIGINT or SIGTERM, how long in-flight requests may take to finish, e.g. "30s".
    #[arg(long, env = "PNODE_SHUTDOWN_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration, global = true)]
    pub shutdown_timeout: Duration,

    #[command(flatten)]
    pub collector: CollectorSettings,

    #[command(flatten)]
    pub log: LogSettings,
}

/// How the collector polls the network.
#[derive(Debug, Clone, Args)]
pub struct CollectorSettings {
    /// Time between the starts of two collection cycles, e.g. "60s".
    #[arg(long = "ingest-interval", env = "PNODE_INGEST_INTERVAL", default_value = "60s", value_parser = humantime::parse_duration, global = true)]
    pub interval: Duration,

    /// Timeout of one pRPC call (seed or node), connect and answer included, e.g. "2500ms".
    #[arg(long = "prpc-timeout", env = "PNODE_PRPC_TIMEOUT", default_value = "2500ms", value_parser = humantime::parse_duration, global = true)]
    pub prpc_timeout: Duration,

    /// get-stats calls in flight at once.
    #[arg(
        long = "stats-concurrency",
        env = "PNODE_STATS_CONCURRENCY",
        default_value_t = 32,
        global = true
    )]
    pub stats_concurrency: usize,

    /// Longest a cycle may poll nodes; calls still unanswered then are dropped, e.g. "45s".
    #[arg(long = "cycle-deadline", env = "PNODE_CYCLE_DEADLINE", default_value = "45s", value_parser = humantime::parse_duration, global = true)]
    pub cycle_deadline: Duration,
}

/// Where the data lives and how many connections may reach it.
#[derive(Debug, Clone, Args)]
pub struct DatabaseSettings {
    /// sqlite://FILE?mode=rwc (embedded, the default) or postgres://USER@HOST/DB.
    #[arg(
        long = "database-url",
        env = "DATABASE_URL",
        default_value = "sqlite://pnodes.db?mode=rwc",
        global = true
    )]
    pub url: String,

    /// Most connections the pool opens.
    #[arg(
        long = "db-max-connections",
        env = "PNODE_DB_MAX_CONNECTIONS",
        default_value_t = 10,
        global = true
    )]
    pub max_connections: u32,

    /// How long a query may wait for a free connection (or a new one) before it fails, e.g. "5s".
    #[arg(long = "db-acquire-timeout", env = "PNODE_DB_ACQUIRE_TIMEOUT", default_value = "5s", value_parser = humantime::parse_duration, global = true)]
    pub acquire_timeout: Duration,
}

/// What is logged and how it looks.
#[derive(Debug, Clone, Args)]
pub struct LogSettings {
    /// Log filter in tracing's EnvFilter syntax, e.g. "info" or "info,pnode_api=debug".
    #[arg(long = "log", env = "RUST_LOG", default_value = "info", global = true)]
    pub filter: String,

    /// Log lines as human-readable text or as one JSON object per line.
    #[arg(long = "log-format", env = "PNODE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub format: LogFormat,
}

/// The shape of log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

impl Settings {
    /// Settings with every default, for tests and embedding: what `pnode-api` would use with no
    /// flags and no environment.
    pub fn with_database_url(url: impl Into<String>) -> Self {
        Self {
            database: DatabaseSettings {
                url: url.into(),
                max_connections: 10,
                acquire_timeout: Duration::from_secs(5),
            },
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            seeds: Seeds::default(),
            workers: Some(2),
            collector: CollectorSettings {
                interval: Duration::from_secs(60),
                prpc_timeout: Duration::from_millis(2500),
                stats_concurrency: 32,
                cycle_deadline: Duration::from_secs(45),
            },
            shutdown_timeout: Duration::from_secs(30),
            log: LogSettings {
                filter: "info".to_owned(),
                format: LogFormat::Text,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn a_bad_bind_address_is_rejected_with_the_flag_named() {
        let err = Cli::try_parse_from(["pnode-api", "--bind", "nowhere", "serve"])
            .expect_err("an address without a port must be refused");
        assert!(err.to_string().contains("--bind"), "{err}");
    }

    #[test]
    fn durations_read_as_humans_write_them() {
        let cli = Cli::try_parse_from(["pnode-api", "serve", "--shutdown-timeout", "1m 30s"])
            .expect("a humantime duration parses");
        assert_eq!(cli.settings.shutdown_timeout, Duration::from_secs(90));
    }
}
