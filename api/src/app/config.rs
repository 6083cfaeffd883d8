//! Settings: one typed struct, every value from a flag or an environment variable, each with a
//! default that works on a laptop. The defaults are written once, in the clap attributes; the
//! `Default` impls read them from there (see [`defaults`]). The commands are in `cli.rs`.

use std::{net::SocketAddr, time::Duration};

use clap::{Args, FromArgMatches, ValueEnum, builder::Resettable};

use crate::domain::seeds::Seeds;

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
    pub http: HttpSettings,

    #[command(flatten)]
    pub collector: CollectorSettings,

    #[command(flatten)]
    pub events: EventSettings,

    #[command(flatten)]
    pub webhooks: WebhookSettings,

    /// Whether `serve` collects (when seeds are set); `serve --no-collector` turns it off.
    #[arg(skip = true)]
    pub run_collector: bool,

    #[command(flatten)]
    pub log: LogSettings,

    #[command(flatten)]
    pub memory: MemorySettings,
}

/// What the HTTP layer keeps and whom it serves.
#[derive(Debug, Clone, Args)]
pub struct HttpSettings {
    /// Memory for answers cached per data version, in MB (MiB); 0 turns the cache off (every
    /// answer is then read from the database, and the full view streamed).
    #[arg(
        long = "view-cache-mb",
        env = "PNODE_VIEW_CACHE_MB",
        default_value_t = 64,
        global = true
    )]
    pub view_cache_mb: u64,

    /// Origins whose browser scripts may call the API: `*` (any; every route is a read-only
    /// GET), a comma-separated list like `https://dash.example.org`, or `none` (no CORS headers).
    #[arg(
        long = "cors-origins",
        env = "PNODE_CORS_ORIGINS",
        default_value = "*",
        global = true
    )]
    pub cors_origins: CorsOrigins,

    /// How long a client may accept no bytes of an answer before its connection is dropped,
    /// e.g. "30s" (a client that stops reading holds nothing for longer).
    #[arg(long = "http-write-timeout", env = "PNODE_HTTP_WRITE_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration, global = true)]
    pub write_timeout: Duration,

    /// How long a request's head (request line and headers) may take to arrive; 408 after it.
    #[arg(long = "http-request-timeout", env = "PNODE_HTTP_REQUEST_TIMEOUT", default_value = "5s", value_parser = humantime::parse_duration, global = true)]
    pub request_timeout: Duration,

    /// How long an idle keep-alive connection is kept open.
    #[arg(long = "http-keep-alive", env = "PNODE_HTTP_KEEP_ALIVE", default_value = "5s", value_parser = humantime::parse_duration, global = true)]
    pub keep_alive: Duration,

    /// Full views (every node in one answer) computed at once; answers already cached take none.
    #[arg(
        long = "full-view-concurrency",
        env = "PNODE_FULL_VIEW_CONCURRENCY",
        default_value_t = 2,
        value_parser = clap::value_parser!(u16).range(1..),
        global = true
    )]
    pub full_view_concurrency: u16,

    /// How long a full view waits for its turn before it is answered 503 with `Retry-After`.
    #[arg(long = "full-view-wait", env = "PNODE_FULL_VIEW_WAIT", default_value = "2s", value_parser = humantime::parse_duration, global = true)]
    pub full_view_wait: Duration,
}

/// Who may call the API from a browser on another origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigins {
    Any,
    Only(Vec<String>),
    None,
}

impl std::str::FromStr for CorsOrigins {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim() {
            "*" => Ok(Self::Any),
            "none" | "" => Ok(Self::None),
            list => {
                let origins: Vec<String> = list
                    .split(',')
                    .map(|origin| origin.trim().trim_end_matches('/').to_owned())
                    .filter(|origin| !origin.is_empty())
                    .collect();
                for origin in &origins {
                    let url = url::Url::parse(origin)
                        .map_err(|err| format!("{origin:?} is not an origin: {err}"))?;
                    if !matches!(url.scheme(), "http" | "https") || url.path() != "/" {
                        return Err(format!(
                            "{origin:?} is not an origin like https://dash.example.org"
                        ));
                    }
                }
                Ok(Self::Only(origins))
            }
        }
    }
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
        hide_env_values = true,
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

    /// A node no seed has reported for this long is announced as gone (`node.disappeared`).
    #[arg(id = "node_gone_after", long = "node-gone-after", env = "PNODE_NODE_GONE_AFTER", default_value = "10m", value_parser = humantime::parse_duration, global = true)]
    pub gone_after: Duration,

    #[command(flatten)]
    pub retention: RetentionSettings,
}

/// Live events (`/api/events`).
#[derive(Debug, Clone, Args)]
pub struct EventSettings {
    /// How often each replica reads new events from the database (the delay of a live event).
    #[arg(id = "events_poll_interval", long = "events-poll-interval", env = "PNODE_EVENTS_POLL_INTERVAL", default_value = "1s", value_parser = positive_duration, global = true)]
    pub poll_interval: Duration,

    /// A comment line is sent on a quiet stream this often, so that proxies keep it open.
    #[arg(id = "events_heartbeat", long = "events-heartbeat", env = "PNODE_EVENTS_HEARTBEAT", default_value = "15s", value_parser = positive_duration, global = true)]
    pub heartbeat: Duration,

    /// Event streams open at once; more are answered 503.
    #[arg(
        id = "events_max_clients",
        long = "events-max-clients",
        env = "PNODE_EVENTS_MAX_CLIENTS",
        default_value_t = 1000,
        global = true
    )]
    pub max_clients: usize,

    /// Most events replayed to a client reconnecting with `Last-Event-ID`; more missed: `reset`.
    #[arg(
        id = "events_replay",
        long = "events-replay",
        env = "PNODE_EVENTS_REPLAY",
        default_value_t = 1000,
        global = true
    )]
    pub replay: u64,
}

/// Webhooks: where the collecting replica POSTs its events.
#[derive(Debug, Clone, Args)]
pub struct WebhookSettings {
    /// Comma-separated URLs, each receiving every event, or `kind|kind=URL` for some kinds only
    /// (e.g. `node.reachability|node.disappeared=https://hooks.example.org/x`); empty: none.
    #[arg(
        id = "webhooks",
        long = "webhooks",
        env = "PNODE_WEBHOOKS",
        default_value = "",
        hide_env_values = true,
        global = true
    )]
    pub urls: String,

    /// Signs each call: `X-Pnode-Timestamp` and `X-Pnode-Signature: sha256=<hex HMAC-SHA256 of
    /// "<timestamp>.<body>">`; empty: unsigned.
    #[arg(
        id = "webhook_secret",
        long = "webhook-secret",
        env = "PNODE_WEBHOOK_SECRET",
        default_value = "",
        hide_env_values = true,
        hide_default_value = true,
        global = true
    )]
    pub secret: String,

    /// Longest one delivery attempt may take, connection included.
    #[arg(id = "webhook_timeout", long = "webhook-timeout", env = "PNODE_WEBHOOK_TIMEOUT", default_value = "5s", value_parser = positive_duration, global = true)]
    pub timeout: Duration,

    /// Attempts after a failed first one (a connection error, a timeout, a status other than 2xx).
    #[arg(
        id = "webhook_retries",
        long = "webhook-retries",
        env = "PNODE_WEBHOOK_RETRIES",
        default_value_t = 3,
        global = true
    )]
    pub retries: u32,

    /// Wait before the first retry; it doubles for each next one.
    #[arg(id = "webhook_backoff", long = "webhook-backoff", env = "PNODE_WEBHOOK_BACKOFF", default_value = "2s", value_parser = humantime::parse_duration, global = true)]
    pub backoff: Duration,

    /// Per URL, kind and node (the network for cycles and credits): after a send, later events
    /// are held this long, and the newest is sent then if it says something new; 0: none held.
    #[arg(id = "webhook_cooldown", long = "webhook-cooldown", env = "PNODE_WEBHOOK_COOLDOWN", default_value = "10m", value_parser = humantime::parse_duration, global = true)]
    pub cooldown: Duration,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        defaults()
    }
}

impl Default for EventSettings {
    fn default() -> Self {
        defaults()
    }
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

    /// Events older than this are deleted (a client reconnecting later gets `reset`).
    #[arg(id = "retain_events", long = "retain-events", env = "PNODE_RETAIN_EVENTS", default_value = "24h", value_parser = humantime::parse_duration, global = true)]
    pub events: Duration,
}

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

impl DatabaseSettings {
    /// The pool size for SQLite when none is set: one writer and a few readers are all that 2
    /// cores keep busy, and every connection holds its own page cache.
    pub const SQLITE_MAX_CONNECTIONS: u32 = 4;
    pub const POSTGRES_MAX_CONNECTIONS: u32 = 10;

    /// `url` with every other setting at its default.
    pub fn for_url(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ..defaults()
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
    /// Log filter in tracing's EnvFilter syntax, e.g. "info" or "info,pnode_api=debug". The
    /// default keeps actix-server's per-listener start and stop lines out (the service logs its
    /// own "listening" line).
    #[arg(
        long = "log",
        env = "RUST_LOG",
        default_value = "info,actix_server=warn",
        global = true
    )]
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
    /// Settings for tests and embedding: every default (what `pnode-api` uses with no flags and
    /// no environment), on `url`, listening on any free loopback port with 2 workers.
    pub fn with_database_url(url: impl Into<String>) -> Self {
        Self {
            database: DatabaseSettings::for_url(url),
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            workers: Some(2),
            ..defaults()
        }
    }
}

/// A duration that is more than zero (a period or a timeout of 0 means nothing sensible).
fn positive_duration(text: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text) {
        Ok(duration) if duration.is_zero() => Err("must be more than 0".to_owned()),
        Ok(duration) => Ok(duration),
        Err(err) => Err(err.to_string()),
    }
}

/// The defaults of a group of settings, as its clap attributes give them, with no flag and no
/// environment variable read. Every `Default` impl here is this, so each default is written once.
pub fn defaults<T: Args + FromArgMatches>() -> T {
    let parsed = defaults_command::<T>()
        .try_get_matches_from(std::iter::empty::<String>())
        .and_then(|matches| T::from_arg_matches(&matches));
    match parsed {
        Ok(settings) => settings,
        // Only a default that does not parse gets here: a bug the unit tests catch.
        Err(err) => panic!("a default setting does not parse: {err}"),
    }
}

/// The arguments of `T` without their environment variables.
fn defaults_command<T: Args>() -> clap::Command {
    T::augment_args(clap::Command::new("defaults").no_binary_name(true))
        .mut_args(|arg| arg.env(Resettable::Reset))
}

impl Default for HttpSettings {
    fn default() -> Self {
        defaults()
    }
}

impl Default for CollectorSettings {
    fn default() -> Self {
        defaults()
    }
}

impl Default for RetentionSettings {
    fn default() -> Self {
        defaults()
    }
}

impl Default for MemorySettings {
    fn default() -> Self {
        defaults()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_parses() {
        let settings = Settings::with_database_url("sqlite://pnodes.db?mode=rwc");
        assert_eq!(settings.collector.interval, Duration::from_secs(60));
        assert_eq!(
            settings.collector.retention.credits,
            Duration::from_secs(90 * 86_400)
        );
        assert_eq!(settings.memory.alert_mb, 1024);
        assert_eq!(settings.shutdown_timeout, Duration::from_secs(30));
        assert!(settings.run_collector);
        assert_eq!(settings.database.sqlite_cache_kib, 256);
    }

    #[test]
    fn defaults_read_no_environment_variable() {
        let command = defaults_command::<Settings>();
        let with_env: Vec<_> = command
            .get_arguments()
            .filter(|arg| arg.get_env().is_some())
            .map(|arg| arg.get_id().to_string())
            .collect();
        assert!(with_env.is_empty(), "{with_env:?}");
        assert!(command.get_arguments().count() > 20);
    }

    #[test]
    fn cors_origins_read_any_a_list_or_none() {
        assert_eq!("*".parse(), Ok(CorsOrigins::Any));
        assert_eq!("none".parse(), Ok(CorsOrigins::None));
        assert_eq!(
            "https://a.example, http://127.0.0.1:3000/".parse(),
            Ok(CorsOrigins::Only(vec![
                "https://a.example".into(),
                "http://127.0.0.1:3000".into()
            ]))
        );
        assert!("a.example".parse::<CorsOrigins>().is_err());
        assert!("https://a.example/path".parse::<CorsOrigins>().is_err());
        assert_eq!(HttpSettings::default().view_cache_mb, 64);
    }

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
