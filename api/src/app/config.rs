//! Settings: one typed struct, every value from a flag or an environment variable, each with a
//! default that works on a laptop. The defaults are written once, in the clap attributes; the
//! `Default` impls read them from there (see [`defaults`]). The commands are in `cli.rs`.

use std::{net::SocketAddr, time::Duration};

use clap::{Args, FromArgMatches, ValueEnum, builder::Resettable};

use crate::domain::seeds::Seeds;
pub use crate::{
    collector::settings::{CollectorSettings, RetentionSettings},
    db::settings::DatabaseSettings,
    net::settings::OutboundSettings,
    observe::memory::settings::MemorySettings,
    push::settings::{EventSettings, WebhookSettings},
    web::settings::{CorsOrigins, HttpSettings},
};

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

    /// Seed nodes, comma-separated, each `http(s)://host:port` or `NAME=http(s)://host:port`;
    /// user info in a URL is sent as HTTP Basic auth only (its value is never shown).
    #[arg(
        id = "seed_urls",
        long = "seed-urls",
        env = "PNODE_SEEDS",
        default_value = "",
        hide_env_values = true,
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
    pub outbound: OutboundSettings,

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

impl Default for DatabaseSettings {
    fn default() -> Self {
        defaults()
    }
}

impl Default for OutboundSettings {
    fn default() -> Self {
        defaults()
    }
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
}
