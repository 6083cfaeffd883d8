//! Credits: an optional HTTP source says how many credits each pod has earned; every refresh
//! keeps a history of them (`pod_credits_snapshots`) and each known node's current value
//! (`pnodes.latest_credits`).
//!
//! A refresh is all or nothing: an answer that cannot be read in full (transport, size, shape)
//! changes nothing, and what is written is written in one transaction. Credits can go down (the
//! source resets them), so a change in either direction is recorded.

mod error;
mod fetch;
mod parse;
mod store;

use crate::domain::endpoint::BasicAuth;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable as _};
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, TransactionTrait};

pub use self::{error::CreditsError, fetch::fetch, parse::parse, store::store};

/// How often an unchanged value is stored again, unless configured otherwise.
pub const DEFAULT_SNAPSHOT_EVERY: Duration = Duration::from_secs(24 * 60 * 60);

/// How long one fetch may take, connect and whole answer, unless configured otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Answers above this size are refused, unless configured otherwise: a few thousand pods take
/// well under 1 MiB, so this only stops a source gone wrong.
pub const DEFAULT_MAX_ANSWER_BYTES: usize = 32 * 1024 * 1024;

/// How credits are fetched and kept.
#[derive(Debug, Clone)]
pub struct CreditsPolicy {
    /// A new snapshot is stored for a pod when its newest one is older than this, or the value changed.
    pub snapshot_every: Duration,
    /// The whole request: connecting, sending and reading the full answer.
    pub timeout: Duration,
    /// Answers longer than this are refused while they stream in.
    pub max_answer_bytes: usize,
    /// Fetches tried again after a transient failure (no answer, a 429 or a 5xx), each after a
    /// wait that doubles from `retry_wait`, with jitter.
    pub retries: usize,
    pub retry_wait: Duration,
    /// The credentials of the configured URL's user info, sent as HTTP Basic auth.
    pub auth: Option<BasicAuth>,
}

impl Default for CreditsPolicy {
    /// A snapshot a day, 10 s per fetch, 32 MiB answers at most, 2 retries from 1 s.
    fn default() -> Self {
        Self {
            snapshot_every: DEFAULT_SNAPSHOT_EVERY,
            timeout: DEFAULT_TIMEOUT,
            max_answer_bytes: DEFAULT_MAX_ANSWER_BYTES,
            retries: 2,
            retry_wait: Duration::from_secs(1),
            auth: None,
        }
    }
}

/// One pod's credits, as the source gave them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credit {
    /// The pod's pubkey (base58 of 32 bytes).
    pub pubkey: String,
    /// Never negative.
    pub credits: i64,
}

/// What one refresh did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CreditsReport {
    /// Usable entries: one per pod.
    pub received: usize,
    /// Entries left out: without a valid string `pod_id` or a non-negative integer `credits`,
    /// not objects, or a pod already listed earlier in the same answer.
    pub skipped: usize,
    /// Rows written to `pod_credits_snapshots`.
    pub snapshots: usize,
    /// `pnodes` rows whose `latest_credits` changed.
    pub nodes_updated: usize,
    /// The `credits` event recorded, when anything changed.
    pub events: Vec<crate::push::events::Event>,
}

/// Fetches `url`, then stores the answer at `now`. A failed or malformed fetch changes nothing.
#[tracing::instrument(level = "debug", name = "refresh credits", skip(db, client, policy))]
pub async fn refresh<C>(
    db: &C,
    client: &reqwest::Client,
    network: &str,
    url: &str,
    policy: &CreditsPolicy,
    now: DateTime<Utc>,
) -> Result<CreditsReport, CreditsError>
where
    C: ConnectionTrait + TransactionTrait,
{
    let fetched = fetch_patiently(client, url, policy).await?;
    stored(db, network, url, fetched, policy, now).await
}

/// Fetches `url`, trying again (with backoff and jitter) after a transient failure: the pods'
/// credits, and how many entries were skipped.
pub async fn fetch_patiently(
    client: &reqwest::Client,
    url: &str,
    policy: &CreditsPolicy,
) -> Result<(Vec<Credit>, usize), CreditsError> {
    let retry = ExponentialBuilder::default()
        .with_min_delay(policy.retry_wait)
        .with_max_times(policy.retries)
        .with_jitter();
    (|| fetch(client, url, policy))
        .retry(retry)
        .sleep(tokio::time::sleep)
        .when(CreditsError::is_transient)
        .notify(|err, wait| {
            tracing::debug!(kind = err.kind(), error = %err, ?wait, "credits fetch failed; trying again");
        })
        .await
}

/// Stores what [`fetch_patiently`] fetched from `network`'s `url` at `now`.
pub async fn stored<C>(
    db: &C,
    network: &str,
    url: &str,
    (credits, skipped): (Vec<Credit>, usize),
    policy: &CreditsPolicy,
    now: DateTime<Utc>,
) -> Result<CreditsReport, CreditsError>
where
    C: ConnectionTrait + TransactionTrait,
{
    let mut report = store(db, network, url, &credits, policy, now).await?;
    report.skipped += skipped;
    tracing::debug!(?report, "credits stored");
    Ok(report)
}
