//! The decisions of a cycle, as plain functions over plain data (no database, no network): how
//! the seeds' answers merge into one report per node, whom to ask for stats, and how the cycle's
//! outcome is counted, overall and per seed. The shell (`super::Collector::cycle`) reads, calls
//! these, and writes.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::{
    runs::{Counts, SeedReport},
    stats::Target,
};
use crate::net::{
    prpc::Pod,
    targets::{AllowedTargets, Refusal, StatsTarget},
};

/// One node as one seed reported it, once the answer is recorded (the node has its id).
#[derive(Debug, Clone, Copy)]
pub(super) struct Reported<'a> {
    /// The seed's position in the configured list.
    pub seed: usize,
    pub id: i64,
    pub pod: &'a Pod,
}

/// What every seed's answer of a cycle says, one entry per node.
#[derive(Debug, Default)]
pub(super) struct Merged<'a> {
    /// The seeds (positions, ascending) that reported each node.
    pub reported_by: BTreeMap<i64, Vec<usize>>,
    /// Each node's freshest report: the highest `last_seen_timestamp`; between equal ones (or
    /// none), the seed listed first.
    pub freshest: HashMap<i64, &'a Pod>,
}

/// Merges the reports of every seed (in any order) into one per node.
pub(super) fn merge<'a>(reports: impl IntoIterator<Item = Reported<'a>>) -> Merged<'a> {
    let mut reports: Vec<Reported<'a>> = reports.into_iter().collect();
    // In seed order, so that a tie keeps the first seed's report whatever order they came in.
    reports.sort_by_key(|report| report.seed);
    let mut merged = Merged::default();
    for Reported { seed, id, pod } in reports {
        let seeds = merged.reported_by.entry(id).or_default();
        if !seeds.contains(&seed) {
            seeds.push(seed);
        }
        let fresher = merged
            .freshest
            .get(&id)
            .is_none_or(|kept| kept.last_seen_timestamp < pod.last_seen_timestamp);
        if fresher {
            merged.freshest.insert(id, pod);
        }
    }
    merged
}

impl Merged<'_> {
    /// Nodes whose freshest report says they are public.
    pub(super) fn public(&self) -> i64 {
        self.freshest
            .values()
            .filter(|pod| pod.is_public == Some(true))
            .count() as i64
    }

    /// Where each node may be asked for its stats: the address of its freshest report, when
    /// `allowed` lets it be called; the nodes at one address share one call. The others are
    /// counted by why they are not called (their gossip is recorded and shown all the same).
    pub(super) fn targets(&self, allowed: &AllowedTargets) -> Targets {
        let mut targets = Targets::default();
        for (&id, pod) in &self.freshest {
            match allowed.check(&pod.address, pod.rpc_port) {
                Ok(endpoint) => targets.nodes.entry(endpoint).or_default().push(id),
                Err(refusal) => *targets.refused.entry(refusal).or_default() += 1,
            }
        }
        for ids in targets.nodes.values_mut() {
            ids.sort_unstable();
        }
        targets
    }
}

/// Where stats may be asked for this cycle, and what was refused.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Targets {
    /// Each address that may be called, with the nodes gossiped at it (ascending ids).
    pub nodes: BTreeMap<StatsTarget, Vec<i64>>,
    /// Nodes not called, by why.
    pub refused: HashMap<Refusal, usize>,
}

impl Targets {
    /// Every node that has an address that may be called.
    pub(super) fn ids(&self) -> Vec<i64> {
        self.nodes.values().flatten().copied().collect()
    }
}

/// Which calls a cycle makes: one per address whose nodes are not all `waiting` (in backoff),
/// credited to its nodes that are due; at most `max` of them, starting `turn` places into the
/// list (in address order), so that calls left out by the cap are made first next cycle.
/// Returns the calls, how many were left out by the cap, and the next cycle's turn.
pub(super) fn due(
    targets: &Targets,
    waiting: &HashSet<i64>,
    max: usize,
    turn: usize,
) -> (Vec<Target>, usize, usize) {
    let calls: Vec<Target> = targets
        .nodes
        .iter()
        .filter_map(|(&endpoint, ids)| {
            let due: Vec<i64> = ids
                .iter()
                .copied()
                .filter(|id| !waiting.contains(id))
                .collect();
            (!due.is_empty()).then_some(Target {
                endpoint,
                pnode_ids: due,
            })
        })
        .collect();
    if calls.len() <= max {
        return (calls, 0, 0);
    }
    let start = turn % calls.len();
    let skipped = calls.len() - max;
    let chosen = calls
        .iter()
        .cycle()
        .skip(start)
        .take(max)
        .cloned()
        .collect();
    (chosen, skipped, (start + max) % calls.len())
}

/// What is failing now (seeds by position, or the credits source), to log a failure once when
/// it starts or changes kind, and once when it ends, not every cycle.
#[derive(Debug, Default)]
pub(super) struct Failures {
    kinds: HashMap<usize, &'static str>,
}

impl Failures {
    /// `source` failed with `kind`: whether that is news (it was not failing, or failed
    /// otherwise).
    pub(super) fn failed(&mut self, source: usize, kind: &'static str) -> bool {
        self.kinds.insert(source, kind) != Some(kind)
    }

    /// `source` answered: whether it was failing until now.
    pub(super) fn recovered(&mut self, source: usize) -> bool {
        self.kinds.remove(&source).is_some()
    }
}

/// What a cycle did, overall and per seed: nodes observed, in backoff, and the get-stats calls
/// made and answered (`answered`: per node polled, whether it answered).
pub(super) fn tally(
    merged: &Merged<'_>,
    waiting: &HashSet<i64>,
    answered: &HashMap<i64, bool>,
    seeds: &mut [SeedReport],
) -> Counts {
    let mut totals = Counts {
        observed: merged.reported_by.len() as i64,
        backoff: waiting.len() as i64,
        ..Counts::default()
    };
    add_calls(&mut totals, answered.values().copied());
    for (id, reporters) in &merged.reported_by {
        for &seed in reporters {
            let Some(report) = seeds.get_mut(seed) else {
                continue;
            };
            if waiting.contains(id) {
                report.counts.backoff += 1;
            }
            add_calls(&mut report.counts, answered.get(id).copied());
        }
    }
    totals
}

/// Adds get-stats outcomes (true: answered) to `counts`.
fn add_calls(counts: &mut Counts, outcomes: impl IntoIterator<Item = bool>) {
    for answered in outcomes {
        counts.attempted += 1;
        if answered {
            counts.success += 1;
        } else {
            counts.failed += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(address: &str, last_seen: Option<i64>, public: bool) -> Pod {
        Pod {
            address: address.to_owned(),
            pubkey: None,
            version: None,
            last_seen_timestamp: last_seen,
            is_public: Some(public),
            rpc_port: Some(6000),
            storage_committed: None,
            storage_used: None,
            storage_usage_percent: None,
            uptime: None,
        }
    }

    fn seed_report(url: &str) -> SeedReport {
        SeedReport {
            seed_base_url: url.to_owned(),
            counts: Counts::default(),
            error: None,
        }
    }

    #[test]
    fn the_freshest_report_wins_and_a_tie_goes_to_the_first_seed() {
        let (old, new, tie_a, tie_b) = (
            pod("10.0.0.1:9001", Some(100), false),
            pod("10.0.0.2:9001", Some(200), true),
            pod("10.0.0.3:9001", None, false),
            pod("10.0.0.4:9001", None, true),
        );
        // Seed 1's answer arrives first, seed 0's second: the order of arrival does not matter.
        let merged = merge([
            Reported {
                seed: 1,
                id: 7,
                pod: &new,
            },
            Reported {
                seed: 1,
                id: 8,
                pod: &tie_b,
            },
            Reported {
                seed: 0,
                id: 7,
                pod: &old,
            },
            Reported {
                seed: 0,
                id: 8,
                pod: &tie_a,
            },
        ]);
        assert_eq!(merged.freshest[&7].address, "10.0.0.2:9001");
        assert_eq!(merged.freshest[&8].address, "10.0.0.3:9001");
        assert_eq!(merged.reported_by[&7], [0, 1]);
        assert_eq!(merged.public(), 1);
        let urls: Vec<_> = merged
            .targets(&ten())
            .nodes
            .iter()
            .map(|(endpoint, ids)| (ids[0], endpoint.url()))
            .collect();
        assert_eq!(
            urls,
            [
                (7, "http://10.0.0.2:6000".to_owned()),
                (8, "http://10.0.0.3:6000".to_owned())
            ]
        );
    }

    #[test]
    fn nodes_in_backoff_are_not_due_and_are_counted_per_seed() {
        let (a, b) = (
            pod("10.0.0.1:9001", Some(1), false),
            pod("10.0.0.2:9001", Some(1), false),
        );
        let merged = merge([
            Reported {
                seed: 0,
                id: 1,
                pod: &a,
            },
            Reported {
                seed: 0,
                id: 2,
                pod: &b,
            },
            Reported {
                seed: 1,
                id: 2,
                pod: &b,
            },
        ]);
        let waiting = HashSet::from([1]);
        let (calls, _, _) = due(&merged.targets(&ten()), &waiting, 10, 0);
        let due: Vec<i64> = calls.into_iter().flat_map(|t| t.pnode_ids).collect();
        assert_eq!(due, [2]);
        let mut seeds = vec![seed_report("http://a"), seed_report("http://b")];
        let totals = tally(&merged, &waiting, &HashMap::from([(2, false)]), &mut seeds);
        assert_eq!(
            totals,
            Counts {
                attempted: 1,
                success: 0,
                backoff: 1,
                failed: 1,
                observed: 2
            }
        );
        assert_eq!((seeds[0].counts.backoff, seeds[0].counts.failed), (1, 1));
        assert_eq!((seeds[1].counts.backoff, seeds[1].counts.failed), (0, 1));
    }

    fn ten() -> AllowedTargets {
        "10.0.0.0/8".parse().expect("a CIDR")
    }

    #[test]
    fn nodes_at_one_address_share_a_call_and_refused_addresses_are_counted() {
        let shared = pod("10.0.0.1:9001", Some(1), false);
        let hostile = [
            pod("u:p@10.0.0.1:9001", Some(1), false),
            pod("localhost:9001", Some(1), false),
            pod("192.168.0.1:9001", Some(1), false),
        ];
        let mut reports = vec![
            Reported {
                seed: 0,
                id: 1,
                pod: &shared,
            },
            Reported {
                seed: 0,
                id: 2,
                pod: &shared,
            },
        ];
        for (k, pod) in hostile.iter().enumerate() {
            reports.push(Reported {
                seed: 0,
                id: 10 + k as i64,
                pod,
            });
        }
        let targets = merge(reports).targets(&ten());
        assert_eq!(targets.nodes.len(), 1);
        assert_eq!(targets.ids(), [1, 2]);
        assert_eq!(targets.refused[&Refusal::NotIpLiteral], 2);
        assert_eq!(targets.refused[&Refusal::NotAllowed], 1);
        // One call, credited to both; a node in backoff is left out of the credit.
        let (calls, skipped, _) = due(&targets, &HashSet::from([2]), 10, 0);
        assert_eq!((calls.len(), skipped), (1, 0));
        assert_eq!(calls[0].pnode_ids, [1]);
        let (calls, _, _) = due(&targets, &HashSet::from([1, 2]), 10, 0);
        assert!(calls.is_empty());
    }

    #[test]
    fn calls_past_the_cap_are_skipped_and_made_first_next_cycle() {
        let pods: Vec<Pod> = (1..=5)
            .map(|k| pod(&format!("10.0.0.{k}:9001"), Some(1), false))
            .collect();
        let targets = merge(pods.iter().enumerate().map(|(k, pod)| Reported {
            seed: 0,
            id: k as i64 + 1,
            pod,
        }))
        .targets(&ten());
        let mut turn = 0;
        let mut called = Vec::new();
        for _ in 0..3 {
            let (calls, skipped, next) = due(&targets, &HashSet::new(), 2, turn);
            assert_eq!((calls.len(), skipped), (2, 3));
            called.extend(calls.into_iter().flat_map(|call| call.pnode_ids));
            turn = next;
        }
        // Every node is asked within three cycles: the cap rotates.
        assert_eq!(called, [1, 2, 3, 4, 5, 1]);
    }

    #[test]
    fn a_failure_is_news_when_it_starts_or_changes_and_when_it_ends() {
        let mut failing = Failures::default();
        assert!(failing.failed(0, "timeout"));
        assert!(!failing.failed(0, "timeout"));
        assert!(failing.failed(1, "timeout"));
        assert!(failing.failed(0, "not_json"));
        assert!(failing.recovered(0));
        assert!(!failing.recovered(0));
    }
}
