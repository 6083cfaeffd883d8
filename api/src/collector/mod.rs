//! The collector: every cycle it asks each seed for its view of gossip, records what they saw,
//! asks each node seen for its stats (unless its backoff runs), and records the run.

mod clock;
pub mod credits;
mod gossip;
mod lock;
pub mod metrics;
pub mod retention;
mod runs;
mod samples;
pub mod score;
pub mod settings;
mod stats;

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};

use anyhow::Context as _;
use tokio::sync::watch;

use self::credits::{CreditsError, CreditsPolicy};
pub use self::{
    clock::Clock,
    runs::{Counts, SeedReport},
};
use self::{
    lock::Leadership,
    metrics::{CollectorMetrics, CycleOutcome},
    retention::Pruned,
    stats::Target,
};
use crate::{
    collector::settings::CollectorSettings,
    db::{
        Database,
        health::{WriteHealth, Writer},
    },
    domain::seeds::Seeds,
    net::prpc::{self, PrpcClient},
    push::webhooks::WebhookSender,
};

/// What one cycle did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CycleReport {
    pub run_id: i64,
    pub totals: Counts,
    pub seeds: Vec<SeedReport>,
    /// Pods without a valid pubkey, or malformed, over all answers.
    pub skipped: usize,
    /// History deleted after the cycle, as retention says.
    pub pruned: Pruned,
}

/// Polls the seeds and the nodes they report.
#[derive(Debug)]
pub struct Collector {
    db: Database,
    client: PrpcClient,
    seeds: Vec<String>,
    settings: CollectorSettings,
    leadership: Leadership,
    /// For the credits source: a direct client (`prpc::direct_client`), like the pRPC one.
    credits_client: reqwest::Client,
    metrics: CollectorMetrics,
    clock: Clock,
    /// The outcome of its latest write, for readiness.
    health: Arc<WriteHealth>,
    /// Where the events it records go, when webhooks are configured.
    webhooks: Option<WebhookSender>,
}

impl Collector {
    pub fn new(
        db: Database,
        seeds: &Seeds,
        settings: CollectorSettings,
        database_url: &str,
    ) -> Self {
        Self {
            leadership: Leadership::new(db.backend(), database_url),
            client: PrpcClient::new(settings.prpc_timeout),
            seeds: seeds
                .as_slice()
                .iter()
                .map(|seed| seed.base_url.clone())
                .collect(),
            credits_client: prpc::direct_client().build().unwrap_or_default(),
            db,
            settings,
            metrics: CollectorMetrics::default(),
            clock: Clock::default(),
            health: Arc::default(),
            webhooks: None,
        }
    }

    /// Hands the events it records to `webhooks` from now on (never waiting).
    pub fn send_events_to(&mut self, webhooks: WebhookSender) {
        self.webhooks = Some(webhooks);
    }

    /// The same collector reading time from `clock` (tests move it ahead).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The cycle counters, to register with `/metrics`.
    pub fn metrics(&self) -> &CollectorMetrics {
        &self.metrics
    }

    /// Whether its writes go through (readiness reads it).
    pub fn write_health(&self) -> Arc<WriteHealth> {
        Arc::clone(&self.health)
    }

    /// Cycles every interval, and refreshes credits every credits interval when a source is set,
    /// until `stop` turns true. A cycle in flight is finished first. (A cycle is several
    /// transactions: each seed's answer, the cycle's stats, the run's close. One dropped part-way
    /// leaves each of them whole or absent, and its run unfinished, reported as abandoned.)
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let mut ticks = tokio::time::interval(self.settings.interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut credit_ticks = tokio::time::interval(self.settings.credits_interval);
        credit_ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let with_credits = !self.settings.credits_url.is_empty();
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = credit_ticks.tick(), if with_credits => {
                    self.refresh_credits().await;
                    continue;
                }
                _ = stop.changed() => break,
            }
            if *stop.borrow() {
                break;
            }
            match self.run_cycle(&stop).await {
                Ok(Some(report)) => tracing::info!(
                    run = report.run_id,
                    observed = report.totals.observed,
                    success = report.totals.success,
                    failed = report.totals.failed,
                    backoff = report.totals.backoff,
                    skipped = report.skipped,
                    "collection cycle finished"
                ),
                Ok(None) => tracing::debug!("another replica collects"),
                Err(err) => tracing::error!(error = format!("{err:#}"), "collection cycle failed"),
            }
        }
        self.leadership.release().await;
        tracing::info!("collector stopped");
    }

    /// Fetches the credits source and stores what changed, on the collecting replica only. A failed
    /// or malformed fetch changes nothing; it is logged and tried again next time.
    pub async fn refresh_credits(&mut self) {
        match self.leadership.acquire().await {
            Ok(true) => {}
            Ok(false) => return,
            Err(err) => {
                tracing::error!(error = %err, "cannot check the collector lock");
                return;
            }
        }
        let policy = CreditsPolicy {
            snapshot_every: self.settings.credits_snapshot_every,
            ..CreditsPolicy::default()
        };
        let url = &self.settings.credits_url;
        match credits::refresh(
            self.db.conn(),
            &self.credits_client,
            url,
            &policy,
            self.clock.now(),
        )
        .await
        {
            Ok(report) => {
                self.health.succeeded(Writer::Credits);
                if let Some(webhooks) = &self.webhooks {
                    webhooks.offer(&report.events);
                }
                tracing::info!(
                    received = report.received,
                    skipped = report.skipped,
                    snapshots = report.snapshots,
                    nodes_updated = report.nodes_updated,
                    "credits refreshed"
                );
            }
            Err(err) => {
                if let CreditsError::Database(db) = &err {
                    self.health.failed(
                        Writer::Credits,
                        format!("storing credits: {db}"),
                        self.clock.now(),
                    );
                }
                tracing::warn!(kind = err.kind(), error = %err, url, "credits refresh failed; nothing changed");
            }
        }
    }

    /// One cycle, if this replica may collect (`None` when another holds the lock). Stats polling
    /// is skipped once `stop` is true.
    pub async fn run_cycle(
        &mut self,
        stop: &watch::Receiver<bool>,
    ) -> anyhow::Result<Option<CycleReport>> {
        let started = std::time::Instant::now();
        let result = self.cycle(stop).await;
        match &result {
            // A replica that does not collect writes nothing.
            Ok(_) => self.health.succeeded(Writer::Cycle),
            Err(err) => self
                .health
                .failed(Writer::Cycle, format!("{err:#}"), self.clock.now()),
        }
        let outcome = match &result {
            Ok(Some(report)) => {
                let failed: Vec<&str> = report
                    .seeds
                    .iter()
                    .filter(|seed| seed.error.is_some())
                    .map(|seed| seed.seed_base_url.as_str())
                    .collect();
                self.metrics.found(&report.totals, report.skipped, &failed);
                CycleOutcome::Finished
            }
            Ok(None) => CycleOutcome::NotLeader,
            Err(_) => CycleOutcome::Failed,
        };
        self.metrics.cycle(outcome, started.elapsed());
        result
    }

    async fn cycle(&mut self, stop: &watch::Receiver<bool>) -> anyhow::Result<Option<CycleReport>> {
        if !self.leadership.acquire().await? {
            return Ok(None);
        }
        // Writes into a SQLite file deleted or replaced under the process would be lost.
        self.db.check_file()?;
        let conn = self.db.conn();
        let started = self.clock.now();
        let deadline = tokio::time::Instant::now() + self.settings.cycle_deadline;
        let run_id = runs::start(conn, started)
            .await
            .context("opening the collection run")?;

        let answers =
            futures_util::future::join_all(self.seeds.iter().map(|seed| self.client.pods(seed)))
                .await;
        let mut reports = Vec::with_capacity(self.seeds.len());
        let mut reported_by: HashMap<i64, Vec<usize>> = HashMap::new();
        let mut targets: HashMap<i64, (Option<i64>, Target)> = HashMap::new();
        // Whether each node is public, as the entry seen most recently says.
        let mut public: HashMap<i64, (Option<i64>, bool)> = HashMap::new();
        let mut skipped = 0;
        for (index, (seed, answer)) in self.seeds.iter().zip(answers).enumerate() {
            let mut report = SeedReport {
                seed_base_url: seed.clone(),
                counts: Counts::default(),
                error: None,
            };
            let selected = match answer {
                Ok(answer) => gossip::select(answer),
                Err(err) => {
                    tracing::warn!(seed = %seed, kind = err.kind(), error = %err, "seed gave no pods");
                    report.error = Some(format!("{}: {err}", err.kind()));
                    reports.push(report);
                    continue;
                }
            };
            skipped += selected.skipped;
            match gossip::record(conn, seed, &selected.pods, started).await {
                Ok(ids) => {
                    report.counts.observed = ids.len() as i64;
                    for (pubkey, pod) in &selected.pods {
                        let Some(&id) = ids.get(pubkey) else { continue };
                        reported_by.entry(id).or_default().push(index);
                        if public
                            .get(&id)
                            .is_none_or(|(seen, _)| *seen < pod.last_seen_timestamp)
                        {
                            let is_public = pod.is_public == Some(true);
                            public.insert(id, (pod.last_seen_timestamp, is_public));
                        }
                        let Some(url) = stats::rpc_url(&pod.address, pod.rpc_port) else {
                            continue;
                        };
                        let newer = targets
                            .get(&id)
                            .is_none_or(|(seen, _)| *seen < pod.last_seen_timestamp);
                        if newer {
                            targets.insert(
                                id,
                                (pod.last_seen_timestamp, Target { pnode_id: id, url }),
                            );
                        }
                    }
                }
                // The database refused the write (a full disk, a read-only file, a lost
                // connection): the cycle fails and says so; its run stays unfinished.
                Err(err) => {
                    return Err(err).context(format!(
                        "recording the answer of {seed} (nothing of it was kept)"
                    ));
                }
            }
            reports.push(report);
        }

        let ids: Vec<i64> = targets.keys().copied().collect();
        let waiting: HashSet<i64> = stats::in_backoff(conn, &ids, started)
            .await
            .context("reading the nodes' backoff")?
            .into_iter()
            .collect();
        let due: Vec<Target> = targets
            .into_values()
            .map(|(_, target)| target)
            .filter(|target| !waiting.contains(&target.pnode_id))
            .collect();
        let polled = if *stop.borrow() {
            Vec::new()
        } else {
            stats::poll(&self.client, due, self.settings.stats_concurrency, deadline).await
        };
        stats::record(conn, &polled, started, self.clock.now())
            .await
            .context("recording the cycle's stats")?;

        let answered: HashMap<i64, bool> = polled
            .iter()
            .map(|p| (p.pnode_id, p.stats.is_some()))
            .collect();
        let mut totals = Counts {
            observed: reported_by.len() as i64,
            backoff: waiting.len() as i64,
            ..Counts::default()
        };
        tally(&mut totals, answered.values().copied());
        for (id, seeds) in &reported_by {
            for &index in seeds {
                let counts = &mut reports[index].counts;
                if waiting.contains(id) {
                    counts.backoff += 1;
                }
                tally(counts, answered.get(id).copied());
            }
        }
        let public = public.values().filter(|(_, public)| *public).count() as i64;
        let gone_after =
            chrono::Duration::from_std(self.settings.gone_after).unwrap_or(chrono::Duration::MAX);
        let events = runs::finish(
            conn,
            run_id,
            &totals,
            public,
            &reports,
            self.clock.now(),
            gone_after,
        )
        .await
        .context("closing the collection run")?;
        if let Some(webhooks) = &self.webhooks {
            webhooks.offer(&events);
        }
        // Only the collecting replica prunes, after its writes, in small batches.
        let pruned = retention::prune(
            conn,
            &self.settings.retention,
            self.clock.now(),
            retention::BATCH,
        )
        .await
        .context("pruning history past its retention")?;
        if pruned.total() > 0 {
            tracing::info!(?pruned, "pruned history past its retention");
        }
        Ok(Some(CycleReport {
            run_id,
            totals,
            seeds: reports,
            skipped,
            pruned,
        }))
    }
}

/// Adds get-stats outcomes (true: answered) to `counts`.
fn tally(counts: &mut Counts, outcomes: impl IntoIterator<Item = bool>) {
    for answered in outcomes {
        counts.attempted += 1;
        if answered {
            counts.success += 1;
        } else {
            counts.failed += 1;
        }
    }
}
