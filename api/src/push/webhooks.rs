//! Webhooks: the collecting replica POSTs its events (the JSON of `/api/events`) to the URLs of
//! `PNODE_WEBHOOKS`. Only the process that wrote an event sends it: the collector hands the
//! events of each close (and of each credits refresh) to each rule's bounded queue without
//! waiting (when a queue is full its events are dropped and counted), and each rule (a URL, and
//! the kinds it takes) has a task of its own, so that a dead receiver only delays itself. A rule
//! sends [`IN_FLIGHT`] events at a time, each attempt bounded by `PNODE_WEBHOOK_TIMEOUT`, retried
//! after a failure (a connection error, a timeout or a status other than 2xx) with doubling
//! backoff.
//!
//! Cooldown (`PNODE_WEBHOOK_COOLDOWN`), per rule, kind and subject (the node; the network for
//! cycles and credits): after an event is sent, later ones are held, the newest replacing the
//! older; when the cooldown ends the held one is sent, unless it says what the last one sent said
//! (a node that went down, up and down again is not news). A flapping node costs its receiver one
//! call per cooldown, and the receiver always ends up with the current state. A delivery that
//! fails every attempt ends the cooldown, so the next event is sent at once. With
//! `PNODE_WEBHOOK_SECRET`, each attempt is signed: `X-Pnode-Timestamp` (unix seconds) and
//! `X-Pnode-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`, so that a receiver can
//! refuse an old request replayed.

use std::{
    collections::HashMap,
    fmt::Write as _,
    sync::{Arc, Mutex, PoisonError},
    time::Instant,
};

use hmac::{Hmac, KeyInit, Mac};
use prometheus_client::{
    encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder},
    metrics::{counter::Counter, family::Family},
    registry::Registry,
};
use sha2::Sha256;
use tokio::{
    sync::{Semaphore, mpsc},
    task::JoinHandle,
};

use backon::{ExponentialBuilder, Retryable as _};

use crate::{
    domain::{
        endpoint::{BasicAuth, split_credentials},
        network::{self, Network},
        secret::{ExposeSecret, SecretString},
    },
    net::http::Outbound,
    observe::redact,
    push::{
        events::{Change, Event, KINDS},
        settings::WebhookSettings,
    },
};

/// Events waiting for delivery, per rule; more are dropped (and counted).
const QUEUE: usize = 1024;
/// Deliveries in flight at once, per rule.
pub const IN_FLIGHT: usize = 8;
/// Cooldown entries kept before idle ones are swept.
const SWEEP_ABOVE: usize = 10_000;
/// How often held events are checked for the end of their cooldown.
const HELD_CHECK: std::time::Duration = std::time::Duration::from_secs(1);

/// Where to send, and which kinds.
#[derive(Clone, PartialEq, Eq)]
pub struct Rule {
    /// Without user info: that is sent as HTTP Basic auth.
    pub url: String,
    pub auth: Option<BasicAuth>,
    /// Every kind when empty.
    pub kinds: Vec<String>,
    /// The network whose events it takes; every network's when `None`.
    pub network: Option<Network>,
}

impl std::fmt::Debug for Rule {
    /// Only the URL's host: its path or query often holds the receiver's secret token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rule")
            .field("host", &host_of(&self.url))
            .field("kinds", &self.kinds)
            .field("network", &self.network)
            .finish()
    }
}

impl Rule {
    fn takes(&self, event: &Event) -> bool {
        let change = &event.change;
        self.network
            .as_ref()
            .is_none_or(|network| network.as_str() == event.network)
            && (self.kinds.is_empty() || self.kinds.iter().any(|kind| kind == change.kind()))
    }
}

/// The rules of `PNODE_WEBHOOKS`: comma-separated entries, each `[NETWORK:][KINDS=]URL`: a URL
/// (every event), `kind|kind=URL` (those kinds only), each optionally of one network's events
/// only, e.g. `devnet:node.reachability|node.disappeared=https://hooks.example.org/pnodes`.
pub fn parse_rules(text: &str) -> Result<Vec<Rule>, String> {
    let mut rules = Vec::new();
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (network, entry) = network::split_prefix(entry);
        let (kinds, url) = match entry.split_once('=') {
            Some((kinds, url)) if !kinds.contains("://") => (kinds, url.trim()),
            _ => ("", entry),
        };
        let kinds: Vec<String> = kinds
            .split('|')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(str::to_owned)
            .collect();
        if let Some(unknown) = kinds.iter().find(|k| !KINDS.contains(&k.as_str())) {
            return Err(format!(
                "{unknown:?} is not an event kind; kinds: {}",
                KINDS.join(", ")
            ));
        }
        let parsed = url::Url::parse(url)
            .map_err(|err| format!("{:?} is not a URL: {err}", redact::url_passwords(url)))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!(
                "{:?} is not an http(s) URL",
                redact::url_passwords(url)
            ));
        }
        let (url, auth) = split_credentials(url);
        rules.push(Rule {
            url,
            auth,
            kinds,
            network,
        });
    }
    Ok(rules)
}

/// The signature header's value for `body` sent at `timestamp` (unix seconds): the HMAC of
/// `"<timestamp>.<body>"` (HMAC takes a key of any length: never `None`).
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> Option<String> {
    hmac_sha256_hex(secret, &[format!("{timestamp}.").as_bytes(), body])
        .map(|hex| format!("sha256={hex}"))
}

/// The HMAC-SHA256 of `parts` one after the other, in hex.
fn hmac_sha256_hex(secret: &[u8], parts: &[&[u8]]) -> Option<String> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).ok()?;
    for part in parts {
        mac.update(part);
    }
    let digest = mac.finalize().into_bytes();
    Some(digest.iter().map(|byte| format!("{byte:02x}")).collect())
}

#[derive(Debug, Clone, Hash, PartialEq, Eq)]
pub enum Outcome {
    /// A 2xx, at some attempt.
    Delivered,
    /// Every attempt failed.
    Failed,
    /// Silenced by its rule's cooldown.
    Suppressed,
    /// The queue was full.
    Dropped,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: Outcome,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq)]
pub enum AttemptResult {
    Ok,
    /// A status other than 2xx.
    Status,
    Timeout,
    /// Connection refused, reset, DNS, TLS...
    Connection,
}

impl Outcome {
    fn label(&self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Failed => "failed",
            Self::Suppressed => "suppressed",
            Self::Dropped => "dropped",
        }
    }
}

impl AttemptResult {
    fn label(&self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Status => "status",
            Self::Timeout => "timeout",
            Self::Connection => "connection",
        }
    }
}

/// Label values in snake_case, as the README and every other metric of the service write them.
impl EncodeLabelValue for Outcome {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> Result<(), std::fmt::Error> {
        encoder.write_str(self.label())
    }
}

impl EncodeLabelValue for AttemptResult {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> Result<(), std::fmt::Error> {
        encoder.write_str(self.label())
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AttemptLabels {
    result: AttemptResult,
}

/// The webhook counters (`pnode_webhook_*` in `/metrics`).
#[derive(Debug, Clone, Default)]
pub struct WebhookMetrics {
    deliveries: Family<OutcomeLabels, Counter>,
    attempts: Family<AttemptLabels, Counter>,
}

impl WebhookMetrics {
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "deliveries",
            "Webhook deliveries by outcome: delivered, failed (every attempt), suppressed (cooldown), dropped (queue full)",
            self.deliveries.clone(),
        );
        registry.register(
            "attempts",
            "Webhook HTTP attempts by result",
            self.attempts.clone(),
        );
    }

    /// Deliveries so far with this outcome.
    pub fn deliveries(&self, outcome: Outcome) -> u64 {
        self.deliveries
            .get_or_create(&OutcomeLabels { outcome })
            .get()
    }

    /// Attempts so far with this result.
    pub fn attempts(&self, result: AttemptResult) -> u64 {
        self.attempts.get_or_create(&AttemptLabels { result }).get()
    }

    fn delivery(&self, outcome: Outcome) {
        self.deliveries
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    fn attempt(&self, result: AttemptResult) {
        self.attempts.get_or_create(&AttemptLabels { result }).inc();
    }
}

/// The collector's end: hands events over without waiting.
#[derive(Debug, Clone)]
pub struct WebhookSender {
    /// Each rule and its queue.
    queues: Vec<(Rule, mpsc::Sender<Event>)>,
    metrics: WebhookMetrics,
}

impl WebhookSender {
    /// Queues `events` for each rule that takes them; never waits (a full queue drops them,
    /// counted and logged).
    pub fn offer(&self, events: &[Event]) {
        let mut dropped = 0;
        for event in events {
            for (rule, queue) in &self.queues {
                if rule.takes(event) && queue.try_send(event.clone()).is_err() {
                    self.metrics.delivery(Outcome::Dropped);
                    dropped += 1;
                }
            }
        }
        if dropped > 0 {
            tracing::warn!(
                dropped,
                "webhook queue full: events dropped (receivers too slow or down)"
            );
        }
    }
}

/// Starts a delivery task per rule of `settings` (none without rules). Returns the sender for
/// the collector, a task that ends them all when aborted, and the counters to register.
pub fn start(
    settings: &WebhookSettings,
    outbound: &Outbound,
) -> anyhow::Result<Option<(WebhookSender, JoinHandle<()>, WebhookMetrics)>> {
    let rules = parse_rules(settings.urls.expose_secret())
        .map_err(|err| anyhow::anyhow!("PNODE_WEBHOOKS: {err}"))?;
    if rules.is_empty() {
        return Ok(None);
    }
    let client = outbound
        .client()
        .timeout(settings.timeout)
        .user_agent(concat!("pnode-api/", env!("CARGO_PKG_VERSION")))
        .build()?;
    let metrics = WebhookMetrics::default();
    let secret = (!settings.secret.expose_secret().is_empty()).then(|| settings.secret.clone());
    let mut queues = Vec::with_capacity(rules.len());
    let mut workers = tokio::task::JoinSet::new();
    for rule in rules {
        let (queue, receiver) = mpsc::channel(QUEUE);
        let worker = Worker {
            url: rule.url.clone(),
            auth: rule.auth.clone(),
            client: client.clone(),
            secret: secret.clone(),
            settings: settings.clone(),
            metrics: metrics.clone(),
            keys: Arc::new(Mutex::new(HashMap::new())),
            in_flight: Arc::new(Semaphore::new(IN_FLIGHT)),
        };
        workers.spawn(worker.run(receiver));
        queues.push((rule, queue));
    }
    // Aborting this task drops the set, which aborts every worker.
    let task = tokio::spawn(async move { while workers.join_next().await.is_some() {} });
    Ok(Some((
        WebhookSender {
            queues,
            metrics: metrics.clone(),
        },
        task,
        metrics,
    )))
}

/// A cooldown key: the kind and the subject.
type Key = (&'static str, String);

/// What a rule knows of a key.
#[derive(Debug, Default)]
struct KeyState {
    /// When its last event was sent; `None` once that delivery failed.
    sent_at: Option<Instant>,
    /// What that event said.
    last: Option<Change>,
    /// The newest event held during the cooldown.
    held: Option<Event>,
}

/// One rule's deliveries.
struct Worker {
    url: String,
    auth: Option<BasicAuth>,
    client: reqwest::Client,
    secret: Option<SecretString>,
    settings: WebhookSettings,
    metrics: WebhookMetrics,
    keys: Arc<Mutex<HashMap<Key, KeyState>>>,
    in_flight: Arc<Semaphore>,
}

impl Worker {
    async fn run(self, mut receiver: mpsc::Receiver<Event>) {
        let mut held_check = tokio::time::interval(HELD_CHECK);
        held_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let due = tokio::select! {
                received = receiver.recv() => match received {
                    Some(event) => self.take(event),
                    None => return,
                },
                _ = held_check.tick() => self.released(),
            };
            for event in due {
                // Waits for a place: only this rule's queue fills meanwhile.
                let Ok(permit) = Arc::clone(&self.in_flight).acquire_owned().await else {
                    return;
                };
                let delivery = self.delivery(&event);
                tokio::spawn(async move {
                    delivery.send().await;
                    drop(permit);
                });
            }
        }
    }

    /// `event` to send now, or held by its cooldown (then nothing).
    fn take(&self, event: Event) -> Vec<Event> {
        let now = Instant::now();
        let mut keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        if keys.len() > SWEEP_ABOVE {
            let cooldown = self.settings.cooldown;
            keys.retain(|_, state| {
                state.held.is_some() || state.sent_at.is_some_and(|at| at.elapsed() < cooldown)
            });
        }
        let key = (event.change.kind(), subject(&event));
        let state = keys.entry(key).or_default();
        if state
            .sent_at
            .is_some_and(|at| now.duration_since(at) < self.settings.cooldown)
        {
            self.metrics.delivery(Outcome::Suppressed);
            state.held = Some(event);
            return Vec::new();
        }
        state.sent_at = Some(now);
        state.last = Some(event.change.clone());
        vec![event]
    }

    /// The held events whose cooldown has ended and that say something new.
    fn released(&self) -> Vec<Event> {
        let now = Instant::now();
        let cooldown = self.settings.cooldown;
        let mut keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        let mut due = Vec::new();
        for state in keys.values_mut() {
            let over = state
                .sent_at
                .is_none_or(|at| now.duration_since(at) >= cooldown);
            if !over {
                continue;
            }
            let Some(held) = state.held.take() else {
                continue;
            };
            if state.last.as_ref() == Some(&held.change) {
                continue;
            }
            state.sent_at = Some(now);
            state.last = Some(held.change.clone());
            due.push(held);
        }
        due
    }

    fn delivery(&self, event: &Event) -> Delivery {
        let body = serde_json::to_vec(event).unwrap_or_default();

        Delivery {
            client: self.client.clone(),
            url: self.url.clone(),
            auth: self.auth.clone(),
            body,
            secret: self.secret.clone(),
            event_id: event.id,
            kind: event.change.kind(),
            key: (event.change.kind(), subject(event)),
            keys: Arc::clone(&self.keys),
            settings: self.settings.clone(),
            metrics: self.metrics.clone(),
        }
    }
}

/// The host (and port) of `url`, for logs.
fn host_of(url: &str) -> String {
    url::Url::parse(url).map_or_else(
        |_| "?".to_owned(),
        |url| {
            let host = url.host_str().unwrap_or("?");
            url.port()
                .map_or_else(|| host.to_owned(), |port| format!("{host}:{port}"))
        },
    )
}

/// What an event is about, for its cooldown: its node (network and pubkey), or its network.
fn subject(event: &Event) -> String {
    match event.change.pubkey() {
        Some(pubkey) => format!("{}:{pubkey}", event.network),
        None => event.network.clone(),
    }
}

/// One event to one URL.
struct Delivery {
    client: reqwest::Client,
    url: String,
    auth: Option<BasicAuth>,
    body: Vec<u8>,
    secret: Option<SecretString>,
    event_id: i64,
    kind: &'static str,
    /// Its cooldown key, whose cooldown a failed delivery ends.
    key: Key,
    keys: Arc<Mutex<HashMap<Key, KeyState>>>,
    settings: WebhookSettings,
    metrics: WebhookMetrics,
}

impl Delivery {
    async fn send(self) {
        let attempts = self.settings.retries.saturating_add(1);
        // Doubling from the first wait up to the cap, each wait with jitter (so that receivers
        // coming back are not hit by every retry at once).
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.settings.backoff)
            .with_max_delay(self.settings.backoff_max)
            .with_max_times(self.settings.retries as usize)
            .with_jitter();
        let sent = (|| async {
            let result = self.attempt().await;
            self.metrics.attempt(match &result {
                Ok(()) => AttemptResult::Ok,
                Err((result, _)) => result.clone(),
            });
            result
        })
        .retry(backoff)
        .sleep(tokio::time::sleep)
        .await;
        let Err((_, last_error)) = sent else {
            self.metrics.delivery(Outcome::Delivered);
            return;
        };
        self.metrics.delivery(Outcome::Failed);
        // Nothing reached the receiver: the next event of this key is sent at once.
        if let Some(state) = self
            .keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(&self.key)
        {
            state.sent_at = None;
            state.last = None;
        }
        tracing::warn!(
            // Only the host: a webhook URL's path or query often holds its secret token.
            host = host_of(&self.url),
            event = self.event_id,
            kind = self.kind,
            attempts,
            error = last_error,
            "webhook delivery failed"
        );
    }

    async fn attempt(&self) -> Result<(), (AttemptResult, String)> {
        let request = self.client.post(&self.url);
        let mut request = crate::net::http::authorized(request, self.auth.as_ref())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("X-Pnode-Event", self.kind)
            .header("X-Pnode-Delivery", self.event_id.to_string())
            .body(self.body.clone());
        let timestamp = chrono::Utc::now().timestamp();
        if let Some(signature) = self
            .secret
            .as_ref()
            .and_then(|key| signature(key.expose_secret().as_bytes(), timestamp, &self.body))
        {
            request = request
                .header("X-Pnode-Timestamp", timestamp.to_string())
                .header("X-Pnode-Signature", signature);
        }
        match request.send().await {
            Ok(response) if response.status().is_success() => Ok(()),
            Ok(response) => Err((
                AttemptResult::Status,
                format!("answered {}", response.status()),
            )),
            Err(err) if err.is_timeout() => {
                Err((AttemptResult::Timeout, err.without_url().to_string()))
            }
            Err(err) => Err((AttemptResult::Connection, err.without_url().to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_labels_are_snake_case() {
        let metrics = WebhookMetrics::default();
        metrics.delivery(Outcome::Delivered);
        metrics.attempt(AttemptResult::Timeout);
        let mut registry = Registry::default();
        metrics.register(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).expect("encode");
        assert!(
            text.contains("deliveries_total{outcome=\"delivered\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("attempts_total{result=\"timeout\"} 1"),
            "{text}"
        );
    }

    #[test]
    fn rules_are_urls_with_optional_kinds() {
        let rules = parse_rules(
            " http://127.0.0.1:9000/all , node.reachability|node.disappeared=https://h.example/x?a=b, devnet:https://h.example/d",
        )
        .expect("valid");
        assert_eq!(
            rules,
            [
                Rule {
                    url: "http://127.0.0.1:9000/all".into(),
                    auth: None,
                    kinds: vec![],
                    network: None,
                },
                Rule {
                    url: "https://h.example/x?a=b".into(),
                    auth: None,
                    kinds: vec!["node.reachability".into(), "node.disappeared".into()],
                    network: None,
                },
                Rule {
                    url: "https://h.example/d".into(),
                    auth: None,
                    kinds: vec![],
                    network: Some("devnet".parse().expect("a name")),
                },
            ]
        );
        let event = |network: &str| Event {
            id: 1,
            at: chrono::Utc::now(),
            network: network.to_owned(),
            change: Change::NodeReachability {
                pubkey: "k".into(),
                reachable: true,
            },
        };
        assert!(rules[2].takes(&event("devnet")));
        assert!(!rules[2].takes(&event("mainnet")));
        assert!(rules[0].takes(&event("mainnet")));
        assert!(parse_rules("").expect("none").is_empty());
        let err = parse_rules("node.gone=http://127.0.0.1/").expect_err("unknown kind");
        assert!(err.contains("\"node.gone\" is not an event kind"), "{err}");
        assert!(parse_rules("ftp://127.0.0.1/x").is_err());
        assert!(parse_rules("not a url").is_err());
    }

    #[test]
    fn the_signature_is_hmac_sha256_in_hex_of_the_timestamp_and_the_body() {
        // RFC 4231, test case 2.
        assert_eq!(
            hmac_sha256_hex(b"Jefe", &[b"what do ya ", b"want for nothing?"]).as_deref(),
            Some("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        );
        assert_eq!(
            signature(b"Jefe", 1_765_057_753, b"{}"),
            hmac_sha256_hex(b"Jefe", &[b"1765057753.{}"]).map(|hex| format!("sha256={hex}"))
        );
    }
}
