//! The decisions of a cycle, as plain functions over plain data (no database, no network): how
//! the seeds' answers merge into one report per node, whom to ask for stats, and how the cycle's
//! outcome is counted, overall and per seed. The shell (`super::Collector::cycle`) reads, calls
//! these, and writes.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::{
    runs::{Counts, SeedReport},
    stats::{self, Target},
};
use crate::net::prpc::Pod;

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

    /// Where to ask each node for its stats: at the address of its freshest report (a node
    /// whose address gives no pRPC URL is not asked), by id.
    pub(super) fn targets(&self) -> Vec<Target> {
        let mut targets: Vec<Target> = self
            .freshest
            .iter()
            .filter_map(|(&pnode_id, pod)| {
                let url = stats::rpc_url(&pod.address, pod.rpc_port)?;
                Some(Target { pnode_id, url })
            })
            .collect();
        targets.sort_by_key(|target| target.pnode_id);
        targets
    }
}

/// The targets whose backoff has ended: all but the `waiting` ones.
pub(super) fn due(targets: Vec<Target>, waiting: &HashSet<i64>) -> Vec<Target> {
    targets
        .into_iter()
        .filter(|target| !waiting.contains(&target.pnode_id))
        .collect()
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
            .targets()
            .into_iter()
            .map(|t| (t.pnode_id, t.url))
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
        let due: Vec<i64> = due(merged.targets(), &waiting)
            .into_iter()
            .map(|t| t.pnode_id)
            .collect();
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
}
