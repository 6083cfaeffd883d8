//! The collector as a process runs it, wired in one place for `serve` and `collect`: the
//! collector over the database, the webhooks its events go to, their metrics, and how the two
//! stop.

use std::{sync::Arc, time::Duration};

use tokio::{sync::watch, task::JoinHandle};

use crate::{
    app::config::Settings,
    collector::Collector,
    db::{Database, health::WriteHealth},
    net::http::Outbound,
    observe::metrics::Metrics,
    push::webhooks::{self, WebhookMetrics},
};

/// Whether the events the collector records are also sent to `PNODE_WEBHOOKS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deliveries {
    Send,
    /// A single cycle (`collect --once`) ends before it could deliver anything.
    Skip,
}

/// The collector and its webhooks, not yet running.
#[derive(Debug)]
pub struct Collecting {
    collector: Collector,
    webhooks: Option<(JoinHandle<()>, WebhookMetrics)>,
}

impl Collecting {
    /// The collector of `settings` over `db`; `None` when no seed is configured.
    pub fn wire(
        settings: &Settings,
        db: &Database,
        deliveries: Deliveries,
    ) -> anyhow::Result<Option<Self>> {
        if settings.seeds.as_slice().is_empty() {
            return Ok(None);
        }
        let outbound = Outbound::from_settings(&settings.outbound)?;
        let mut collector = Collector::new(
            db.clone(),
            &settings.seeds,
            settings.collector.clone(),
            &outbound,
            settings.database.url(),
        )?;
        let webhooks = match deliveries {
            Deliveries::Send => webhooks::start(&settings.webhooks, &outbound)?,
            Deliveries::Skip => {
                if settings.webhooks.any() {
                    tracing::warn!(
                        "collect --once sends no webhooks (it would end before delivering)"
                    );
                }
                None
            }
        };
        let webhooks = webhooks.map(|(sender, task, metrics)| {
            collector.send_events_to(sender);
            (task, metrics)
        });
        Ok(Some(Self {
            collector,
            webhooks,
        }))
    }

    /// Registers the collector's metrics and the webhooks'.
    pub fn register(&self, metrics: &mut Metrics) {
        metrics.register_prefixed("pnode_collector", |registry| {
            self.collector.metrics().register(registry);
        });
        if let Some((_, counters)) = &self.webhooks {
            metrics.register_prefixed("pnode_webhook", |registry| counters.register(registry));
        }
    }

    /// Whether the collector's writes go through (readiness reads it).
    pub fn write_health(&self) -> Arc<WriteHealth> {
        self.collector.write_health()
    }

    /// The collector itself, to run a single cycle.
    pub fn collector(&mut self) -> &mut Collector {
        &mut self.collector
    }

    /// Runs the collector (and its webhooks) until [`Running::stop`].
    pub fn spawn(self) -> Running {
        let (stop, stopped) = watch::channel(false);
        Running {
            stop,
            task: tokio::spawn(self.collector.run(stopped)),
            webhooks: self.webhooks.map(|(task, _)| task),
        }
    }
}

/// A running collector.
#[derive(Debug)]
pub struct Running {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    webhooks: Option<JoinHandle<()>>,
}

impl Running {
    /// Stops after the cycle in flight, abandoning it after `timeout`; then stops the webhooks.
    pub async fn stop(self, timeout: Duration) {
        let _ = self.stop.send(true);
        let abort = self.task.abort_handle();
        if tokio::time::timeout(timeout, self.task).await.is_err() {
            // Each write of a cycle is a transaction of its own: dropping the cycle mid-way
            // leaves what was written whole, and the rest (its run stays unfinished) unwritten.
            tracing::warn!("the collection cycle outlived the shutdown timeout; abandoning it");
            abort.abort();
        }
        if let Some(webhooks) = self.webhooks {
            // Stops taking events from the queue (those still queued are not sent); deliveries
            // already under way finish or fail on their own. The events stay in the table.
            webhooks.abort();
        }
    }
}
