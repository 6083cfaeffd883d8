//! The monitor task: a `memory` log line every interval, and the alert checked at each tick.

use std::{sync::Arc, time::Duration};

use tokio::task::JoinHandle;

use super::{Alert, Crossing, MB, MemoryProbe, MemorySample};
use crate::observe::memory::settings::MemorySettings;

/// How often the alert is checked when the log lines are off.
const ALERT_ONLY_INTERVAL: Duration = Duration::from_secs(30);

/// Starts the monitor; it runs until the returned task is aborted.
pub fn spawn_monitor(probe: Arc<MemoryProbe>, settings: &MemorySettings) -> JoinHandle<()> {
    let log = !settings.log_interval.is_zero();
    let every = if log {
        settings.log_interval
    } else {
        ALERT_ONLY_INTERVAL
    };
    tokio::spawn(async move {
        let mut alert = Alert::new(probe.alert_bytes());
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let sample = probe.sample();
            if log {
                log_sample(&sample);
            }
            if let Some(crossing) = alert.observe(sample.rss_bytes) {
                log_crossing(crossing, &sample, probe.alert_bytes());
            }
        }
    })
}

fn log_sample(sample: &MemorySample) {
    tracing::info!(
        target: "memory",
        rss_bytes = sample.rss_bytes,
        rss_mib = sample.rss_bytes / MB,
        virtual_bytes = sample.virtual_bytes,
        allocated_bytes = sample.allocated_bytes,
        allocator_resident_bytes = sample.allocator_resident_bytes,
        uptime_seconds = sample.uptime_seconds,
        "memory"
    );
}

fn log_crossing(crossing: Crossing, sample: &MemorySample, alert_bytes: u64) {
    match crossing {
        Crossing::Above => tracing::error!(
            target: "memory",
            rss_bytes = sample.rss_bytes,
            alert_bytes,
            "memory above the alert threshold"
        ),
        Crossing::Below => tracing::info!(
            target: "memory",
            rss_bytes = sample.rss_bytes,
            alert_bytes,
            "memory back under the alert threshold"
        ),
    }
}
