//! The collector's settings (part of `crate::app::config::Settings`).

use std::time::Duration;

use clap::{Args, builder::TypedValueParser as _};

use crate::{
    domain::{
        endpoint::split_credentials,
        network::{self, Network},
        secret::{self, ExposeSecret, SecretString},
        seeds::{Seed, Seeds},
    },
    net::targets::AllowedTargets,
};

/// What one network is collected from.
#[derive(Debug, Clone)]
pub struct Sources {
    pub network: Network,
    /// Its seeds, in the configured order (which breaks ties between their reports).
    pub seeds: Vec<Seed>,
    /// Its credits source's URL, user info included, if it has one.
    pub credits: Option<SecretString>,
}

/// Each network's sources: the seeds' networks in order, with the credits source of
/// `credits_urls` (`[NETWORK:]URL,…`; an entry naming no network is `default`'s) or the built-in
/// one of a network its word expanded. Refuses two sources for one network, and a source for a
/// network without seeds (its credits would go to no node).
pub fn sources(
    seeds: &Seeds,
    credits_urls: &SecretString,
    default: &Network,
) -> Result<Vec<Sources>, String> {
    let mut credits: Vec<(Network, SecretString)> = Vec::new();
    for entry in credits_urls
        .expose_secret()
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
    {
        let (named, url) = network::split_prefix(entry);
        let network = named.unwrap_or_else(|| default.clone());
        let shown = split_credentials(url).0;
        if credits.iter().any(|(known, _)| known == &network) {
            return Err(format!(
                "PNODE_CREDITS_URL names two credits sources for network {network} ({shown} is the second)"
            ));
        }
        if !matches!(url::Url::parse(url), Ok(parsed) if matches!(parsed.scheme(), "http" | "https"))
        {
            return Err(format!(
                "PNODE_CREDITS_URL entry {shown:?} is not an http(s) URL"
            ));
        }
        credits.push((network, SecretString::from(url.to_owned())));
    }
    for (network, url) in seeds.built_in_credits() {
        if !credits.iter().any(|(known, _)| known == &network) {
            credits.push((network, SecretString::from(url.to_owned())));
        }
    }
    let networks = seeds.networks();
    if let Some((orphan, _)) = credits.iter().find(|(n, _)| !networks.contains(n)) {
        return Err(format!(
            "PNODE_CREDITS_URL names a credits source for network {orphan}, which has no seeds in PNODE_SEEDS"
        ));
    }
    Ok(networks
        .into_iter()
        .map(|network| Sources {
            seeds: seeds.of(&network),
            credits: credits
                .iter()
                .find(|(known, _)| known == &network)
                .map(|(_, url)| url.clone()),
            network,
        })
        .collect())
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

    /// Where get-stats may go: a comma list of CIDRs and `public` (every global unicast
    /// address). A node's gossiped address is called only when it is an IP literal inside it;
    /// tests and the demo, on loopback, say 127.0.0.0/8.
    #[arg(
        long = "stats-targets",
        env = "PNODE_STATS_TARGETS",
        default_value = "public",
        global = true
    )]
    pub stats_targets: AllowedTargets,

    /// get-stats calls (one per address) at most per cycle; the rest are made first next cycle.
    #[arg(
        long = "stats-max-targets",
        env = "PNODE_STATS_MAX_TARGETS",
        default_value_t = 10_000,
        value_parser = clap::value_parser!(u32).range(1..).map(|max| max as usize),
        global = true
    )]
    pub stats_max_targets: usize,

    /// Longest a cycle may poll nodes; calls still unanswered then are dropped, e.g. "45s".
    #[arg(long = "cycle-deadline", env = "PNODE_CYCLE_DEADLINE", default_value = "45s", value_parser = humantime::parse_duration, global = true)]
    pub cycle_deadline: Duration,

    /// Optional credits sources, one per network, comma-separated, each `[NETWORK:]URL`, e.g.
    /// devnet:https://podcredits.xandeum.network/api/pods-credits (off when empty; an entry
    /// without a network is `PNODE_DEFAULT_NETWORK`'s). User info is sent as HTTP Basic auth only.
    #[arg(
        long = "credits-url",
        env = "PNODE_CREDITS_URL",
        hide_env_values = true,
        default_value = "",
        value_parser = secret::parse,
        global = true
    )]
    pub credits_url: SecretString,

    /// Time between two fetches of each credits source, e.g. "60s" (the source refreshes about
    /// every 30 s).
    #[arg(long = "credits-interval", env = "PNODE_CREDITS_INTERVAL", default_value = "60s", value_parser = humantime::parse_duration, global = true)]
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
