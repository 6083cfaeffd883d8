//! Live events' and webhooks' settings (part of `crate::app::config::Settings`).

use std::time::Duration;

use clap::Args;

use crate::domain::secret::{self, ExposeSecret, SecretString};

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
    /// (e.g. `node.reachability|node.disappeared=https://hooks.example.org/x`), either with a
    /// `NETWORK:` prefix for one network's events only; empty: none.
    #[arg(
        id = "webhooks",
        long = "webhooks",
        env = "PNODE_WEBHOOKS",
        default_value = "",
        hide_env_values = true,
        value_parser = secret::parse,
        global = true
    )]
    pub urls: SecretString,

    /// Signs each call: `X-Pnode-Timestamp` and `X-Pnode-Signature: sha256=<hex HMAC-SHA256 of
    /// "<timestamp>.<body>">`; empty: unsigned.
    #[arg(
        id = "webhook_secret",
        long = "webhook-secret",
        env = "PNODE_WEBHOOK_SECRET",
        default_value = "",
        hide_env_values = true,
        hide_default_value = true,
        value_parser = secret::parse,
        global = true
    )]
    pub secret: SecretString,

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

    /// Wait before the first retry; it doubles for each next one, up to `--webhook-backoff-max`,
    /// each wait with random jitter of up to as much again.
    #[arg(id = "webhook_backoff", long = "webhook-backoff", env = "PNODE_WEBHOOK_BACKOFF", default_value = "2s", value_parser = humantime::parse_duration, global = true)]
    pub backoff: Duration,

    /// The longest wait between two attempts of a delivery (before jitter).
    #[arg(id = "webhook_backoff_max", long = "webhook-backoff-max", env = "PNODE_WEBHOOK_BACKOFF_MAX", default_value = "5m", value_parser = positive_duration, global = true)]
    pub backoff_max: Duration,

    /// Per URL, kind and node (the network for cycles and credits): after a send, later events
    /// are held this long, and the newest is sent then if it says something new; 0: none held.
    #[arg(id = "webhook_cooldown", long = "webhook-cooldown", env = "PNODE_WEBHOOK_COOLDOWN", default_value = "10m", value_parser = humantime::parse_duration, global = true)]
    pub cooldown: Duration,
}

/// A duration that is more than zero (a period or a timeout of 0 means nothing sensible).
fn positive_duration(text: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text) {
        Ok(duration) if duration.is_zero() => Err("must be more than 0".to_owned()),
        Ok(duration) => Ok(duration),
        Err(err) => Err(err.to_string()),
    }
}

impl WebhookSettings {
    /// Whether any webhook is configured.
    pub fn any(&self) -> bool {
        !self.urls.expose_secret().trim().is_empty()
    }
}
