//! The collector's cycles: how they ended, how long they took, and what they found.

use std::{collections::HashMap, time::Duration};

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::{Registry, Unit},
};

use super::Counts;
use crate::net::targets::Refusal;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SeedLabels {
    seed: String,
}

/// How a cycle ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CycleOutcome {
    /// It ran to the end (some seeds or nodes may have failed within it).
    Finished,
    /// It stopped on a database error.
    Failed,
    /// Another replica holds the collector lock.
    NotLeader,
}

impl CycleOutcome {
    fn label(self) -> &'static str {
        match self {
            Self::Finished => "finished",
            Self::Failed => "failed",
            Self::NotLeader => "not_leader",
        }
    }
}

/// The collector's metrics. Clones share their values, so the collector keeps one and the
/// registry another.
#[derive(Debug, Clone)]
pub struct CollectorMetrics {
    cycles: Family<OutcomeLabels, Counter>,
    duration: Histogram,
    /// Distinct nodes the last finished cycle saw.
    nodes_observed: Gauge,
    stats_calls: Family<OutcomeLabels, Counter>,
    pods_skipped: Counter,
    seed_errors: Family<SeedLabels, Counter>,
    targets_refused: Family<ReasonLabels, Counter>,
    targets_skipped: Counter,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    /// One of [`Refusal::label`]'s: a closed set.
    reason: &'static str,
}

impl Default for CollectorMetrics {
    fn default() -> Self {
        Self {
            cycles: Family::default(),
            // From 0.1 s to about 7 min.
            duration: Histogram::new(exponential_buckets(0.1, 2.0, 13)),
            nodes_observed: Gauge::default(),
            stats_calls: Family::default(),
            pods_skipped: Counter::default(),
            seed_errors: Family::default(),
            targets_refused: Family::default(),
            targets_skipped: Counter::default(),
        }
    }
}

impl CollectorMetrics {
    /// Registers every metric in `registry` (which `/metrics` prefixes with `pnode_collector`).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "cycles",
            "Collection cycles, by outcome",
            self.cycles.clone(),
        );
        registry.register_with_unit(
            "cycle_duration",
            "Time a collection cycle took, from lock to last write",
            Unit::Seconds,
            self.duration.clone(),
        );
        registry.register(
            "nodes_observed",
            "Distinct nodes the last finished cycle saw",
            self.nodes_observed.clone(),
        );
        registry.register(
            "stats_calls",
            "get-stats calls by outcome (backoff: skipped, its backoff still running)",
            self.stats_calls.clone(),
        );
        registry.register(
            "pods_skipped",
            "Pods left out of a seed's answer: no valid pubkey, or malformed",
            self.pods_skipped.clone(),
        );
        for refusal in Refusal::ALL {
            // Each reason shown from the start, at 0.
            drop(self.targets_refused.get_or_create(&ReasonLabels {
                reason: refusal.label(),
            }));
        }
        registry.register(
            "stats_targets_refused",
            "Nodes not asked for their stats because of their gossiped address, by reason (not_ip_literal, bad_port, not_allowed: outside PNODE_STATS_TARGETS)",
            self.targets_refused.clone(),
        );
        registry.register(
            "stats_targets_skipped",
            "get-stats calls left for a later cycle by PNODE_STATS_MAX_TARGETS",
            self.targets_skipped.clone(),
        );
        registry.register(
            "seed_errors",
            "Seed answers that gave no pods, by seed",
            self.seed_errors.clone(),
        );
    }

    /// Records how a cycle ended and how long it took.
    pub fn cycle(&self, outcome: CycleOutcome, took: Duration) {
        self.cycles
            .get_or_create(&OutcomeLabels {
                outcome: outcome.label(),
            })
            .inc();
        if outcome != CycleOutcome::NotLeader {
            self.duration.observe(took.as_secs_f64());
        }
    }

    /// Records the addresses a cycle would not call, and the calls its cap left for later.
    pub fn targets(&self, refused: &HashMap<Refusal, usize>, skipped: usize) {
        for (refusal, nodes) in refused {
            self.targets_refused
                .get_or_create(&ReasonLabels {
                    reason: refusal.label(),
                })
                .inc_by(*nodes as u64);
        }
        self.targets_skipped.inc_by(skipped as u64);
    }

    /// Records what a finished cycle found.
    pub fn found(&self, totals: &Counts, skipped: usize, failed_seeds: &[&str]) {
        self.nodes_observed.set(totals.observed);
        for (outcome, calls) in [
            ("success", totals.success),
            ("failed", totals.failed),
            ("backoff", totals.backoff),
        ] {
            self.stats_calls
                .get_or_create(&OutcomeLabels { outcome })
                .inc_by(u64::try_from(calls).unwrap_or_default());
        }
        self.pods_skipped.inc_by(skipped as u64);
        for seed in failed_seeds {
            self.seed_errors
                .get_or_create(&SeedLabels {
                    seed: (*seed).to_owned(),
                })
                .inc();
        }
    }
}
