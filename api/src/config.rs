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
    /// Apply pending migrations, then serve the API (and collect, when seeds are set) until SIGINT
    /// or SIGTERM.
    Serve {
        /// Serve the API only; another process runs `pnode-api collect`.
        #[arg(long)]
        no_collector: bool,
    },
    /// Start a simulated pNode network on loopback, collect it every 5 s and serve the API.
    Demo,
    /// Measure the view: generate a network if the database is empty, start the server, drive it.
    Bench(crate::bench::BenchArgs),
    /// Drive a running server (--url) with GETs while sampling its memory; fail on errors or RSS
    /// growth after warm-up. Needs no database.
    Soak(crate::soak::SoakArgs),
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

    /// Whether `serve` collects (when seeds are set); `serve --no-collector` turns it off.
    #[arg(skip = true)]
    pub run_collector: bool,

    #[command(flatten)]
    pub log: LogSettings,

    #[command(flatten)]
    pub memory: MemorySettings,
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

    /// Optional credits source, e.g. https://podcredits.xandeum.network/api/pods-credits (off when empty).
    #[arg(
        long = "credits-url",
        env = "PNODE_CREDITS_URL",
        default_value = "",
        global = true
    )]
    pub credits_url: String,

    /// Time between two fetches of the credits source, e.g. "1h".
    #[arg(long = "credits-interval", env = "PNODE_CREDITS_INTERVAL", default_value = "1h", value_parser = humantime::parse_duration, global = true)]
    pub credits_interval: Duration,

    /// A pod's credits are stored again when its newest snapshot is this old (or the value changed).
    #[arg(long = "credits-snapshot-every", env = "PNODE_CREDITS_SNAPSHOT_EVERY", default_value = "24h", value_parser = humantime::parse_duration, global = true)]
    pub credits_snapshot_every: Duration,

    #[command(flatten)]
    pub retention: RetentionSettings,
}

/// How long history is kept; older rows are pruned after collection cycles, in small batches.
#[derive(Debug, Clone, Args)]
pub struct RetentionSettings {
    /// Gossip observations (and seed sightings not renewed) older than this are deleted.
    #[arg(long = "retain-observations", env = "PNODE_RETAIN_OBSERVATIONS", default_value = "7d", value_parser = humantime::parse_duration, global = true)]
    pub observations: Duration,

    /// Stats samples older than this are deleted.
    #[arg(long = "retain-stats", env = "PNODE_RETAIN_STATS", default_value = "30d", value_parser = humantime::parse_duration, global = true)]
    pub stats: Duration,

    /// Collection runs (and their per-seed figures) older than this are deleted.
    #[arg(long = "retain-runs", env = "PNODE_RETAIN_RUNS", default_value = "30d", value_parser = humantime::parse_duration, global = true)]
    pub runs: Duration,

    /// Credits snapshots older than this are deleted.
    #[arg(long = "retain-credits", env = "PNODE_RETAIN_CREDITS", default_value = "90d", value_parser = humantime::parse_duration, global = true)]
    pub credits: Duration,
}

impl Default for CollectorSettings {
    /// The command line's defaults.
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(60),
            prpc_timeout: Duration::from_millis(2500),
            stats_concurrency: 32,
            cycle_deadline: Duration::from_secs(45),
            credits_url: String::new(),
            credits_interval: Duration::from_secs(3600),
            credits_snapshot_every: Duration::from_secs(24 * 3600),
            retention: RetentionSettings::default(),
        }
    }
}

impl Default for RetentionSettings {
    fn default() -> Self {
        const DAY: u64 = 24 * 3600;
        Self {
            observations: Duration::from_secs(7 * DAY),
            stats: Duration::from_secs(30 * DAY),
            runs: Duration::from_secs(30 * DAY),
            credits: Duration::from_secs(90 * DAY),
        }
    }
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
}

/// How the process watches its own memory.
#[derive(Debug, Clone, Args)]
pub struct MemorySettings {
    /// Time between two memory log lines (target `memory`), e.g. "30s"; 0 turns the lines off
    /// (the alert is still checked every 30 s).
    #[arg(long = "memory-log-interval", env = "PNODE_MEMORY_LOG_INTERVAL", default_value = "30s", value_parser = humantime::parse_duration, global = true)]
    pub log_interval: Duration,

    /// Resident memory, in MB (MiB), above which an error is logged once per crossing; 0 turns the
    /// alert off.
    #[arg(
        long = "memory-alert-mb",
        env = "PNODE_MEMORY_ALERT_MB",
        default_value_t = 1024,
        global = true
    )]
    pub alert_mb: u64,
}

impl Default for MemorySettings {
    fn default() -> Self {
        Self {
            log_interval: Duration::from_secs(30),
            alert_mb: 1024,
        }
    }
}

impl DatabaseSettings {
    /// The pool size for SQLite when none is set: one writer and a few readers are all that 2
    /// cores keep busy, and every connection holds its own page cache.
    pub const SQLITE_MAX_CONNECTIONS: u32 = 4;
    pub const POSTGRES_MAX_CONNECTIONS: u32 = 10;

    /// `url` with every other setting at its default.
    pub fn for_url(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: None,
            sqlite_cache_kib: 256,
            acquire_timeout: Duration::from_secs(5),
        }
    }

    /// Whether the URL names a SQLite database (file or memory).
    pub fn is_sqlite(&self) -> bool {
        self.url.starts_with("sqlite:")
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
            database: DatabaseSettings::for_url(url),
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            seeds: Seeds::default(),
            workers: Some(2),
            collector: CollectorSettings::default(),
            run_collector: true,
            shutdown_timeout: Duration::from_secs(30),
            log: LogSettings {
                filter: "info".to_owned(),
                format: LogFormat::Text,
            },
            memory: MemorySettings::default(),
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
    fn the_defaults_in_code_are_the_command_line_defaults() {
        let cli = Cli::try_parse_from(["pnode-api", "serve"]).expect("no flags needed");
        let parsed = cli.settings.collector;
        let coded = CollectorSettings::default();
        assert_eq!(
            (
                parsed.interval,
                parsed.prpc_timeout,
                parsed.stats_concurrency,
                parsed.cycle_deadline
            ),
            (
                coded.interval,
                coded.prpc_timeout,
                coded.stats_concurrency,
                coded.cycle_deadline
            )
        );
        assert_eq!(
            (
                parsed.credits_interval,
                parsed.credits_snapshot_every,
                parsed.retention.observations
            ),
            (
                coded.credits_interval,
                coded.credits_snapshot_every,
                coded.retention.observations
            )
        );
        assert_eq!(
            (
                parsed.retention.stats,
                parsed.retention.runs,
                parsed.retention.credits
            ),
            (
                coded.retention.stats,
                coded.retention.runs,
                coded.retention.credits
            )
        );
    }

    #[test]
    fn a_zero_memory_log_interval_parses_as_off() {
        let cli = Cli::try_parse_from(["pnode-api", "serve", "--memory-log-interval", "0"])
            .expect("0 is a duration");
        assert_eq!(cli.settings.memory.log_interval, Duration::ZERO);
        let defaults = Cli::try_parse_from(["pnode-api", "serve"]).expect("no flags needed");
        let coded = MemorySettings::default();
        assert_eq!(
            (
                defaults.settings.memory.log_interval,
                defaults.settings.memory.alert_mb
            ),
            (coded.log_interval, coded.alert_mb)
        );
    }

    #[test]
    fn soak_takes_its_url_apart_from_the_database_url() {
        // Both flags were once the argument id `url`, and parsing panicked on the type mismatch.
        let cli = Cli::try_parse_from(["pnode-api", "soak", "--url", "http://127.0.0.1:8080"])
            .expect("a soak needs only its URL");
        let Command::Soak(args) = cli.command else {
            panic!("not a soak: {:?}", cli.command);
        };
        assert_eq!(args.url.to_string(), "http://127.0.0.1:8080");
        assert_eq!(cli.settings.database.url, "sqlite://pnodes.db?mode=rwc");
    }

    #[test]
    fn the_pool_size_defaults_by_backend_and_the_coded_defaults_match_the_flags() {
        let cli = Cli::try_parse_from(["pnode-api", "serve"]).expect("no flags needed");
        let parsed = cli.settings.database;
        let coded = DatabaseSettings::for_url("sqlite://pnodes.db?mode=rwc");
        assert_eq!(
            (
                parsed.url.as_str(),
                parsed.max_connections,
                parsed.sqlite_cache_kib
            ),
            (
                coded.url.as_str(),
                coded.max_connections,
                coded.sqlite_cache_kib
            )
        );
        assert_eq!(parsed.acquire_timeout, coded.acquire_timeout);
        assert_eq!(coded.max_connections(), 4);
        assert_eq!(
            DatabaseSettings::for_url("postgres://postgres@127.0.0.1/test").max_connections(),
            10
        );
        let set = Cli::try_parse_from(["pnode-api", "serve", "--db-max-connections", "7"])
            .expect("a pool size");
        assert_eq!(set.settings.database.max_connections(), 7);
    }

    #[test]
    fn durations_read_as_humans_write_them() {
        let cli = Cli::try_parse_from(["pnode-api", "serve", "--shutdown-timeout", "1m 30s"])
            .expect("a humantime duration parses");
        assert_eq!(cli.settings.shutdown_timeout, Duration::from_secs(90));
    }
}
