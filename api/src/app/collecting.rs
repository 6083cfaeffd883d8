//! The collectors as a process runs them, wired in one place for `serve` and `collect`: one
//! collector per network over the database (each cycles on its own), the webhooks their events go
//! to, their metrics, and how they stop.

use std::{sync::Arc, time::Duration};

use tokio::{sync::watch, task::JoinHandle};

use crate::{
    app::config::Settings,
    collector::{Collector, settings::sources},
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

/// The collectors (one per network, in the order of `PNODE_SEEDS`) and their webhooks, not yet
/// running.
#[derive(Debug)]
pub struct Collecting {
    collectors: Vec<Collector>,
    webhooks: Option<(JoinHandle<()>, WebhookMetrics)>,
}

impl Collecting {
    /// The collectors of `settings` over `db`; `None` when no seed is configured.
    pub fn wire(
        settings: &Settings,
        db: &Database,
        deliveries: Deliveries,
    ) -> anyhow::Result<Option<Self>> {
        let seeds = settings
            .seeds
            .clone()
            .with_default_network(&settings.database.default_network());
        let networks = sources(
            &seeds,
            &settings.collector.credits_url,
            &settings.database.default_network(),
        )
        .map_err(anyhow::Error::msg)?;
        if networks.is_empty() {
            return Ok(None);
        }
        let outbound = Outbound::from_settings(&settings.outbound)?;
        let mut collectors: Vec<Collector> = Vec::with_capacity(networks.len());
        for network in networks {
            let collector = Collector::new(
                db.clone(),
                network,
                settings.collector.clone(),
                &outbound,
                settings.database.url(),
            )?;
            collectors.push(match collectors.first() {
                Some(first) => collector.sharing_with(first),
                None => collector,
            });
        }
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
            for collector in &mut collectors {
                collector.send_events_to(sender.clone());
            }
            (task, metrics)
        });
        Ok(Some(Self {
            collectors,
            webhooks,
        }))
    }

    /// Registers the collectors' metrics (which they share) and the webhooks'.
    pub fn register(&self, metrics: &mut Metrics) {
        metrics.register_prefixed("pnode_collector", |registry| {
            if let Some(collector) = self.collectors.first() {
                collector.metrics().register(registry);
            }
        });
        if let Some((_, counters)) = &self.webhooks {
            metrics.register_prefixed("pnode_webhook", |registry| counters.register(registry));
        }
    }

    /// Whether the collectors' writes go through (readiness reads it; they share it).
    pub fn write_health(&self) -> Arc<WriteHealth> {
        match self.collectors.first() {
            Some(collector) => collector.write_health(),
            None => Arc::default(),
        }
    }

    /// The collectors themselves, one per network, to run single cycles.
    pub fn collectors(&mut self) -> &mut [Collector] {
        &mut self.collectors
    }

    /// Runs the collectors (and their webhooks) until [`Running::stop`].
    pub fn spawn(self) -> Running {
        let (stop, stopped) = watch::channel(false);
        Running {
            stop,
            tasks: self
                .collectors
                .into_iter()
                .map(|collector| tokio::spawn(collector.run(stopped.clone())))
                .collect(),
            webhooks: self.webhooks.map(|(task, _)| task),
        }
    }
}

/// Running collectors.
#[derive(Debug)]
pub struct Running {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    webhooks: Option<JoinHandle<()>>,
}

impl Running {
    /// Stops after the cycles in flight, abandoning them after `timeout`; then stops the webhooks.
    pub async fn stop(self, timeout: Duration) {
        let _ = self.stop.send(true);
        let aborts: Vec<_> = self.tasks.iter().map(JoinHandle::abort_handle).collect();
        let all = futures_util::future::join_all(self.tasks);
        if tokio::time::timeout(timeout, all).await.is_err() {
            // Each write of a cycle is a transaction of its own: dropping the cycle mid-way
            // leaves what was written whole, and the rest (its run stays unfinished) unwritten.
            tracing::warn!("a collection cycle outlived the shutdown timeout; abandoning it");
            for abort in aborts {
                abort.abort();
            }
        }
        if let Some(webhooks) = self.webhooks {
            // Stops taking events from the queue (those still queued are not sent); deliveries
            // already under way finish or fail on their own. The events stay in the table.
            webhooks.abort();
        }
    }
}
