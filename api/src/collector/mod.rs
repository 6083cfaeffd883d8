//! The collector: every cycle it asks each seed for its view of gossip, records what they saw,
//! asks each node seen for its stats (unless its backoff runs), and records the run.

mod clock;
pub mod credits;
mod gossip;
mod lock;
pub(crate) mod metrics;
mod plan;
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
use chrono::{DateTime, Utc};
use tokio::sync::watch;

pub use self::{
    clock::Clock,
    runs::{Counts, SeedReport},
    settings::Sources,
};
use self::{
    credits::{CreditsError, CreditsPolicy},
    settings::CollectorSettings,
};
use self::{
    lock::Leadership,
    metrics::{CollectorMetrics, CycleOutcome},
    retention::Pruned,
};
use crate::{
    db::{
        Database,
        health::{WriteHealth, Writer},
    },
    domain::{
        endpoint::{BasicAuth, split_credentials},
        network::Network,
        secret::ExposeSecret,
        seeds::Seed,
        text,
    },
    net::{
        http::Outbound,
        prpc::{Pod, PrpcClient},
    },
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

/// Polls one network's seeds and the nodes they report (each network has a collector of its own,
/// so that one whose seeds all fail delays nothing of another).
#[derive(Debug)]
pub struct Collector {
    db: Database,
    client: PrpcClient,
    network: Network,
    seeds: Vec<Seed>,
    /// Each seed's failure, while it lasts: logged once when it starts or changes, not every
    /// cycle (a broken or hostile seed must not flood the log).
    failing: plan::Failures,
    /// The credits source's failure, while it lasts (logged as the seeds' are).
    credits_failing: plan::Failures,
    /// The credits source, when one is set: its URL without user info, and the credentials.
    credits: Option<(String, Option<BasicAuth>)>,
    settings: CollectorSettings,
    leadership: Leadership,
    /// For the credits source: a client of `crate::net::http`, like the pRPC one.
    credits_client: reqwest::Client,
    metrics: CollectorMetrics,
    clock: Clock,
    /// The outcome of its latest write, for readiness.
    health: Arc<WriteHealth>,
    /// Where the events it records go, when webhooks are configured.
    webhooks: Option<WebhookSender>,
    /// Where the next cycle starts in the list of stats calls, when they are more than a
    /// cycle may make (`PNODE_STATS_MAX_TARGETS`).
    turn: usize,
    /// Runs of failed cycles not discarded yet (their deletion was refused too).
    abandoned: Vec<i64>,
}

impl Collector {
    /// A collector of one network's `sources` into `db`, calling out through `outbound` (fails
    /// only when an HTTP client cannot be built).
    pub fn new(
        db: Database,
        sources: Sources,
        settings: CollectorSettings,
        outbound: &Outbound,
        database_url: &str,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            leadership: Leadership::new(db.backend(), database_url, &sources.network),
            client: PrpcClient::new(outbound, settings.prpc_timeout),
            network: sources.network,
            seeds: sources.seeds,
            failing: plan::Failures::default(),
            credits_failing: plan::Failures::default(),
            // The source's identity (stored, logged) is its URL without user info; that is sent
            // as HTTP Basic auth.
            credits: sources
                .credits
                .as_ref()
                .map(|url| split_credentials(url.expose_secret())),
            credits_client: outbound
                .client()
                .build()
                .context("building the credits source's HTTP client")?,
            db,
            settings,
            metrics: CollectorMetrics::default(),
            clock: Clock::default(),
            health: Arc::default(),
            webhooks: None,
            turn: 0,
            abandoned: Vec::new(),
        })
    }

    /// The same collector counting into `other`'s metrics and reporting its writes' health with
    /// `other`'s (the collectors of one process share them).
    pub fn sharing_with(mut self, other: &Self) -> Self {
        self.metrics = other.metrics.clone();
        self.health = Arc::clone(&other.health);
        self
    }

    /// The network it collects.
    pub fn network(&self) -> &Network {
        &self.network
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
        let with_credits = self.credits.is_some();
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
                    network = %self.network,
                    run = report.run_id,
                    observed = report.totals.observed,
                    success = report.totals.success,
                    failed = report.totals.failed,
                    backoff = report.totals.backoff,
                    skipped = report.skipped,
                    "collection cycle finished"
                ),
                Ok(None) => tracing::debug!(network = %self.network, "another replica collects"),
                Err(err) => {
                    tracing::error!(network = %self.network, error = format!("{err:#}"), "collection cycle failed")
                }
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
        let Some((url, auth)) = self.credits.clone() else {
            return;
        };
        let policy = CreditsPolicy {
            snapshot_every: self.settings.credits_snapshot_every,
            auth,
            ..CreditsPolicy::default()
        };
        let refreshed = async {
            let fetched = credits::fetch_patiently(&self.credits_client, &url, &policy).await?;
            let _turn = self.db.write_turn().await;
            let network = self.network.as_str();
            credits::stored(
                self.db.conn(),
                network,
                &url,
                fetched,
                &policy,
                self.clock.now(),
            )
            .await
        };
        match refreshed.await {
            Ok(report) => {
                if self.credits_failing.recovered(0) {
                    tracing::info!(network = %self.network, url, "the credits source answers again");
                }
                self.health.succeeded(Writer::Credits);
                if let Some(webhooks) = &self.webhooks {
                    webhooks.offer(&report.events);
                }
                tracing::info!(
                    network = %self.network,
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
                let error = text::bounded(&err.to_string(), text::MAX_ERROR_BYTES);
                if self.credits_failing.failed(0, err.kind()) {
                    tracing::warn!(
                        network = %self.network,
                        kind = err.kind(),
                        error,
                        url,
                        "credits refresh failed; nothing changed (logged again when it changes)"
                    );
                } else {
                    tracing::debug!(
                        kind = err.kind(),
                        error,
                        url,
                        "credits refresh failed; nothing changed"
                    );
                }
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

    /// One cycle, in named steps: open the run, gather and record the seeds' answers, merge
    /// them, poll the nodes that are due, count, close the run, prune.
    async fn cycle(&mut self, stop: &watch::Receiver<bool>) -> anyhow::Result<Option<CycleReport>> {
        if !self.leadership.acquire().await? {
            return Ok(None);
        }
        // Writes into a SQLite file deleted or replaced under the process would be lost.
        self.db.check_file()?;
        self.discard_abandoned().await?;
        let started = self.clock.now();
        let deadline = tokio::time::Instant::now() + self.settings.cycle_deadline;
        let run_id = {
            let _turn = self.db.write_turn().await;
            runs::start(self.db.conn(), self.network.as_str(), started)
                .await
                .context("opening the collection run")?
        };
        let steps = self.steps(run_id, started, deadline, stop).await;
        if steps.is_err() {
            // Its run would otherwise show as running until it goes stale; the write that
            // discards it may be refused too, and is then tried before the next cycle.
            self.abandoned.push(run_id);
            if let Err(err) = self.discard_abandoned().await {
                tracing::debug!(
                    error = format!("{err:#}"),
                    "the failed cycle's run is discarded later"
                );
            }
        }
        steps.map(Some)
    }

    /// Deletes the runs of failed cycles (never finished, nothing recorded with them).
    async fn discard_abandoned(&mut self) -> anyhow::Result<()> {
        while let Some(&run_id) = self.abandoned.last() {
            let _turn = self.db.write_turn().await;
            runs::discard(self.db.conn(), run_id, self.clock.now())
                .await
                .context("discarding the run of a failed cycle")?;
            self.abandoned.pop();
        }
        Ok(())
    }

    /// The cycle's work once its run is open: gather, merge, poll, tally, close, prune.
    async fn steps(
        &mut self,
        run_id: i64,
        started: DateTime<Utc>,
        deadline: tokio::time::Instant,
        stop: &watch::Receiver<bool>,
    ) -> anyhow::Result<CycleReport> {
        let Gathered {
            mut seeds,
            recorded,
            skipped,
        } = self.gather(started).await?;
        let merged = plan::merge(recorded.iter().flat_map(Recorded::reported));
        let polled = self.poll_stats(&merged, started, deadline, stop).await?;
        let totals = plan::tally(&merged, &polled.waiting, &polled.answered, &mut seeds);
        self.close(run_id, &totals, merged.public(), &seeds).await?;
        let pruned = self.prune().await?;
        Ok(CycleReport {
            run_id,
            totals,
            seeds,
            skipped,
            pruned,
        })
    }

    /// Asks every seed for its pods at once, then records each answer in a transaction of its
    /// own. A seed that fails is reported with its error and affects no other; a write the
    /// database refuses (a full disk, a read-only file, a lost connection) fails the cycle.
    async fn gather(&mut self, started: DateTime<Utc>) -> anyhow::Result<Gathered> {
        let asked = self
            .seeds
            .iter()
            .map(|seed| self.client.pods(&seed.base_url, seed.auth.as_ref()));
        let answers = futures_util::future::join_all(asked).await;
        let mut gathered = Gathered::default();
        for (index, answer) in answers.into_iter().enumerate() {
            let seed = &self.seeds[index].base_url;
            let mut report = SeedReport {
                seed_base_url: seed.clone(),
                counts: Counts::default(),
                error: None,
            };
            match answer {
                Ok(answer) => {
                    if self.failing.recovered(index) {
                        tracing::info!(seed = %seed, "seed answers again");
                    }
                    let selected = gossip::select(answer);
                    gathered.skipped += selected.skipped;
                    let network = self.network.as_str();
                    let _turn = self.db.write_turn().await;
                    let ids =
                        gossip::record(self.db.conn(), network, seed, &selected.pods, started)
                            .await
                            .with_context(|| {
                                format!("recording the answer of {seed} (nothing of it was kept)")
                            })?;
                    report.counts.observed = ids.len() as i64;
                    gathered.recorded.push(Recorded {
                        seed: index,
                        pods: selected.pods,
                        ids,
                    });
                }
                Err(err) => {
                    let error =
                        text::bounded(&format!("{}: {err}", err.kind()), text::MAX_ERROR_BYTES);
                    if self.failing.failed(index, err.kind()) {
                        tracing::warn!(seed = %seed, kind = err.kind(), error, "seed gave no pods (logged again when it changes)");
                    } else {
                        tracing::debug!(seed = %seed, kind = err.kind(), error, "seed gave no pods");
                    }
                    report.error = Some(error);
                }
            }
            gathered.seeds.push(report);
        }
        Ok(gathered)
    }

    /// Asks the nodes that are due (no backoff running) for their stats, until `deadline` (none
    /// once `stop` is set), and records what they said.
    async fn poll_stats(
        &mut self,
        merged: &plan::Merged<'_>,
        started: DateTime<Utc>,
        deadline: tokio::time::Instant,
        stop: &watch::Receiver<bool>,
    ) -> anyhow::Result<Polling> {
        let conn = self.db.conn();
        let targets = merged.targets(&self.settings.stats_targets);
        let waiting: HashSet<i64> = stats::in_backoff(conn, &targets.ids(), started)
            .await
            .context("reading the nodes' backoff")?
            .into_iter()
            .collect();
        let max = self.settings.stats_max_targets;
        let (due, skipped, turn) = plan::due(&targets, &waiting, max, self.turn);
        self.turn = turn;
        self.metrics.targets(&targets.refused, skipped);
        if skipped > 0 {
            tracing::warn!(
                skipped,
                max,
                "more addresses to ask for stats than PNODE_STATS_MAX_TARGETS: the rest wait their turn"
            );
        }
        let polled = if *stop.borrow() {
            Vec::new()
        } else {
            stats::poll(&self.client, due, self.settings.stats_concurrency, deadline).await
        };
        let turn = self.db.write_turn().await;
        stats::record(conn, &polled, started, self.clock.now())
            .await
            .context("recording the cycle's stats")?;
        drop(turn);
        let answered = polled
            .iter()
            .map(|p| (p.pnode_id, p.stats.is_some()))
            .collect();
        Ok(Polling { waiting, answered })
    }

    /// Closes the run with its counts (the nodes' scores and events in the same transaction),
    /// and hands the events to the webhooks.
    async fn close(
        &self,
        run_id: i64,
        totals: &Counts,
        public: i64,
        seeds: &[SeedReport],
    ) -> anyhow::Result<()> {
        let gone_after =
            chrono::Duration::from_std(self.settings.gone_after).unwrap_or(chrono::Duration::MAX);
        let now = self.clock.now();
        let _turn = self.db.write_turn().await;
        let events = runs::finish(
            self.db.conn(),
            self.network.as_str(),
            run_id,
            totals,
            public,
            seeds,
            now,
            gone_after,
        )
        .await
        .context("closing the collection run")?;
        if let Some(webhooks) = &self.webhooks {
            webhooks.offer(&events);
        }
        Ok(())
    }

    /// Deletes history past its retention, in small batches (only the collecting replica prunes,
    /// after its writes).
    async fn prune(&self) -> anyhow::Result<Pruned> {
        let _turn = self.db.write_turn().await;
        let pruned = retention::prune(
            self.db.conn(),
            &self.settings.retention,
            self.clock.now(),
            retention::BATCH,
        )
        .await
        .context("pruning history past its retention")?;
        if pruned.total() > 0 {
            tracing::info!(?pruned, "pruned history past its retention");
        }
        Ok(pruned)
    }
}

/// The seeds' answers of one cycle, as recorded.
#[derive(Debug, Default)]
struct Gathered {
    /// One per configured seed, in order.
    seeds: Vec<SeedReport>,
    /// The answers that were recorded.
    recorded: Vec<Recorded>,
    /// Pods without a valid pubkey, or malformed, over all answers.
    skipped: usize,
}

/// One seed's answer, recorded: its pods and the id each got.
#[derive(Debug)]
struct Recorded {
    seed: usize,
    pods: Vec<(String, Pod)>,
    ids: HashMap<String, i64>,
}

impl Recorded {
    fn reported(&self) -> impl Iterator<Item = plan::Reported<'_>> {
        self.pods.iter().filter_map(|(pubkey, pod)| {
            Some(plan::Reported {
                seed: self.seed,
                id: *self.ids.get(pubkey)?,
                pod,
            })
        })
    }
}

/// What stats polling found: the nodes left waiting, and per node polled whether it answered.
#[derive(Debug)]
struct Polling {
    waiting: HashSet<i64>,
    answered: HashMap<i64, bool>,
}
