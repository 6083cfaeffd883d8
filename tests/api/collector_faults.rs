//! Bad seeds and bad nodes: each is recorded, none harms the data or holds the cycle.

use std::time::Duration;

use pnode_tools::sim::{PodFault, SeedFault, SimConfig};
use serde_json::json;

use crate::{collecting::Rig, helpers::Backend};

on_both_backends!(
    one_broken_seed_among_healthy_ones_loses_only_its_own_answer,
    a_cycle_in_which_every_seed_fails_erases_nothing,
    each_seed_fault_is_recorded_with_its_kind,
    a_stalled_node_does_not_hold_the_cycle,
    control_characters_in_gossip_make_bad_pods_and_nothing_else,
);

async fn one_broken_seed_among_healthy_ones_loses_only_its_own_answer(backend: Backend) {
    let mut rig = Rig::start(&backend, SimConfig::default()).await;
    rig.sim.set_seed_fault(0, SeedFault::Down);

    let report = rig.cycle().await;

    let broken = &rig.sim.seed_urls()[0];
    assert!(
        report.seeds[0]
            .error
            .as_deref()
            .is_some_and(|e| e.starts_with("connect")),
        "{report:?}"
    );
    assert_eq!(report.seeds[0].counts.observed, 0);
    let mut union: Vec<String> = rig.sim.seen_by(1);
    union.extend(rig.sim.seen_by(2));
    union.sort();
    union.dedup();
    assert_eq!(rig.count("pnodes").await, union.len() as i64);
    assert_eq!(
        rig.count(&format!(
            "pnode_gossip_observations WHERE seed_base_url = '{broken}'"
        ))
        .await,
        0
    );
    assert_eq!(
        rig.count(&format!(
            "ingestion_run_seed_stats WHERE seed_base_url = '{broken}' AND error LIKE 'connect%'"
        ))
        .await,
        1,
        "the seed's failure is recorded with the run"
    );
}

async fn a_cycle_in_which_every_seed_fails_erases_nothing(backend: Backend) {
    let mut rig = Rig::start(&backend, SimConfig::default()).await;
    rig.cycle().await;
    let before = snapshot(&rig).await;

    for seed in 0..rig.sim.seed_urls().len() {
        rig.sim.set_seed_fault(seed, SeedFault::Garbage);
    }
    rig.let_a_minute_pass().await;
    let report = rig.cycle().await;

    assert!(
        report.seeds.iter().all(|s| s
            .error
            .as_deref()
            .is_some_and(|e| e.starts_with("not_json"))),
        "{report:?}"
    );
    assert_eq!(report.totals.observed, 0);
    assert_eq!(
        snapshot(&rig).await,
        before,
        "nodes, observations and sightings are all still there"
    );
    assert_eq!(
        rig.count("ingestion_runs WHERE finished_at IS NOT NULL")
            .await,
        2,
        "the failed cycle is recorded"
    );
}

async fn snapshot(rig: &Rig) -> [i64; 4] {
    [
        rig.count("pnodes").await,
        rig.count("pnode_gossip_observations").await,
        rig.count("pnode_seed_sightings").await,
        rig.count("pnode_stats_samples").await,
    ]
}

async fn each_seed_fault_is_recorded_with_its_kind(backend: Backend) {
    let mut rig = Rig::start(&backend, SimConfig::default()).await;
    let healthy_total = rig.sim.pods().len() as i64;

    for (fault, kind) in [
        (SeedFault::Slow(Duration::from_secs(3)), Some("timeout")),
        (SeedFault::Garbage, Some("not_json")),
        (SeedFault::WrongShape, Some("shape")),
        (SeedFault::HttpStatus(500), Some("http_status")),
        (SeedFault::RpcError, Some("rpc")),
        (SeedFault::Down, Some("connect")),
        (SeedFault::MethodNotFound, None),
    ] {
        rig.sim.set_seed_fault(0, fault.clone());
        rig.let_a_minute_pass().await;

        let report = rig.cycle().await;

        let error = report.seeds[0].error.as_deref();
        match kind {
            Some(kind) => assert!(
                error.is_some_and(|e| e.starts_with(kind)),
                "{fault:?}: {error:?}"
            ),
            None => {
                assert_eq!(error, None, "{fault:?}: the legacy get-pods answer is used");
                assert_eq!(
                    report.seeds[0].counts.observed,
                    rig.sim.seen_by(0).len() as i64
                );
            }
        }
        assert!(
            report.seeds[1..].iter().all(|s| s.error.is_none()),
            "{fault:?}: {report:?}"
        );
        assert_eq!(rig.count("pnodes").await, healthy_total, "{fault:?}");
    }
}

async fn a_stalled_node_does_not_hold_the_cycle(backend: Backend) {
    let mut rig = Rig::start(&backend, SimConfig::default()).await;
    let public: Vec<usize> = (0..rig.sim.pods().len())
        .filter(|&i| rig.sim.pods()[i].public)
        .collect();
    rig.sim.set_pod_fault(public[0], PodFault::Silent);
    rig.sim
        .set_pod_fault(public[1], PodFault::Slow(Duration::from_secs(30)));

    // Rig::cycle fails the test if the cycle does not end; the pRPC timeout is 2 s.
    let report = rig.cycle().await;

    assert_eq!(
        report.totals.failed,
        report.totals.attempted - (public.len() as i64 - 2)
    );
    let stalled = &rig.sim.pods()[public[0]].pubkey;
    assert_eq!(
        rig.count(&format!(
            "pnodes WHERE pubkey = '{stalled}' AND failure_count = 1"
        ))
        .await,
        1
    );
}

/// Gossip with NUL and other control characters, or text past its bound: each such pod is a bad
/// pod, counted and left out; the seed's other pods, and the cycle, go through on both backends
/// (PostgreSQL refuses `\u0000` in text: stored, it would fail the seed's whole answer).
async fn control_characters_in_gossip_make_bad_pods_and_nothing_else(backend: Backend) {
    let mut rig = Rig::start(&backend, SimConfig::default()).await;
    let pod = |pubkey: &str, address: &str, version: &str| {
        json!({
            "address": address, "pubkey": pubkey, "version": version,
            "last_seen_timestamp": 1_765_057_753, "is_public": false, "rpc_port": 6000,
        })
    };
    let good = "9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin";
    let long = "1".repeat(200);
    rig.sim.set_extra_pods(vec![
        pod(
            "7T4zPNNDAT7rwkQ6Rf2QyMvLwowQ4KDSxKRXF9qEtYvR",
            "127.0.0.1:9001",
            "0.8.0\u{0}",
        ),
        pod(
            "Aj6AqP7xvmBNuPF5v4zNB3SYxBe3yP6rsqK6KsaKVXKM",
            "127.0.0.1\u{0}:9001",
            "0.8.0",
        ),
        pod(
            "4Nd1mBQtrMJVYVfKf2PJy9NZUZdTAsp7D4xWLs4gDB4T",
            "127.0.0.1:9001",
            "0.8\u{1b}[31m",
        ),
        pod(
            "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v",
            "127.0.0.1:9001",
            &long,
        ),
        pod(good, "127.0.0.1:9001", "0.8.0"),
    ]);

    let report = rig.cycle().await;

    let seeds = rig.sim.seed_urls().len();
    assert!(
        report.seeds.iter().all(|seed| seed.error.is_none()),
        "{report:?}"
    );
    // The simulator's own odd entries (a pod without a pubkey, one with an invalid one), and ours.
    assert_eq!(report.skipped, seeds * (2 + 4), "{report:?}");
    assert_eq!(
        rig.count(&format!(
            "pnodes WHERE pubkey = '{good}' AND gossip_version = '0.8.0'"
        ))
        .await,
        1
    );
    let bad = "pnodes WHERE pubkey IN ('7T4zPNNDAT7rwkQ6Rf2QyMvLwowQ4KDSxKRXF9qEtYvR', \
        'Aj6AqP7xvmBNuPF5v4zNB3SYxBe3yP6rsqK6KsaKVXKM', '4Nd1mBQtrMJVYVfKf2PJy9NZUZdTAsp7D4xWLs4gDB4T', \
        'EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v')";
    assert_eq!(rig.count(bad).await, 0, "no bad pod is stored");
    assert_eq!(
        rig.count("ingestion_runs WHERE finished_at IS NOT NULL")
            .await,
        1
    );

    // The same pubkeys with clean text are recorded: only their text made them bad pods.
    rig.sim.set_extra_pods(vec![
        pod(
            "7T4zPNNDAT7rwkQ6Rf2QyMvLwowQ4KDSxKRXF9qEtYvR",
            "127.0.0.1:9001",
            "0.8.0",
        ),
        pod(
            "Aj6AqP7xvmBNuPF5v4zNB3SYxBe3yP6rsqK6KsaKVXKM",
            "127.0.0.1:9001",
            "0.8.0",
        ),
        pod(
            "4Nd1mBQtrMJVYVfKf2PJy9NZUZdTAsp7D4xWLs4gDB4T",
            "127.0.0.1:9001",
            "0.8.0",
        ),
        pod(
            "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v",
            "127.0.0.1:9001",
            "0.8.0",
        ),
    ]);
    rig.let_a_minute_pass().await;
    let report = rig.cycle().await;
    assert_eq!(report.skipped, seeds * 2, "{report:?}");
    assert_eq!(rig.count(bad).await, 4);
}
