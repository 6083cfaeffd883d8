//! A collection cycle against the simulated network: what it records, the get-stats backoff, and
//! rates across cycles.

use std::collections::HashSet;

use pnode_tools::sim::{PodFault, SimConfig};

use crate::{collecting::Rig, helpers::Backend};

on_both_backends!(
    a_cycle_records_every_valid_pod_once_per_seed_with_its_sightings,
    failures_back_off_exponentially_and_success_resets_them,
    rates_come_from_consecutive_samples_and_are_null_across_a_counter_reset,
    healthy_nodes_get_stats_every_cycle_back_to_back_and_a_minute_apart,
);

async fn a_cycle_records_every_valid_pod_once_per_seed_with_its_sightings(backend: Backend) {
    let mut rig = Rig::start(&backend, SimConfig::default()).await;
    let pods = rig.sim.pods();
    let public = pods.iter().filter(|p| p.public).count() as i64;

    let report = rig.cycle().await;

    assert_eq!(rig.count("pnodes").await, pods.len() as i64);
    let mut expected_observations = 0;
    for (index, seed) in rig.sim.seed_urls().iter().enumerate() {
        let seen: HashSet<String> = rig.sim.seen_by(index).into_iter().collect();
        expected_observations += seen.len() as i64;
        assert_eq!(
            report.seeds[index].counts.observed,
            seen.len() as i64,
            "{seed}"
        );
        let sightings = rig
            .count(&format!(
                "pnode_seed_sightings ss JOIN pnodes p ON p.id = ss.pnode_id WHERE ss.seed_base_url = '{seed}'"
            ))
            .await;
        assert_eq!(sightings, seen.len() as i64, "sightings of {seed}");
        let per_seed = rig
            .count(&format!(
                "pnode_gossip_observations WHERE seed_base_url = '{seed}'"
            ))
            .await;
        assert_eq!(
            per_seed,
            seen.len() as i64,
            "one observation per pod for {seed}, duplicates folded"
        );
    }
    assert_eq!(
        rig.count("pnode_gossip_observations").await,
        expected_observations
    );
    // Each seed also reported one pod with no pubkey and one with an invalid pubkey.
    assert_eq!(report.skipped, 2 * rig.sim.seed_urls().len());
    assert_eq!(report.totals.observed, pods.len() as i64);
    assert_eq!(
        report.totals.attempted,
        pods.len() as i64,
        "get-stats once per node"
    );
    assert_eq!(report.totals.success, public);
    assert_eq!(report.totals.failed, pods.len() as i64 - public);
    assert_eq!(rig.count("pnodes WHERE reachable").await, public);
    assert_eq!(rig.count("pnode_stats_samples").await, public);
    assert_eq!(
        rig.count("ingestion_runs WHERE finished_at IS NOT NULL")
            .await,
        1
    );
    assert_eq!(
        rig.count("ingestion_run_seed_stats").await,
        rig.sim.seed_urls().len() as i64
    );
}

async fn failures_back_off_exponentially_and_success_resets_them(backend: Backend) {
    let mut rig = Rig::start(&backend, SimConfig::default()).await;
    let pods = rig.sim.pods().len() as i64;
    let public = rig.sim.pods().iter().filter(|p| p.public).count() as i64;
    let flaky = rig.sim.pods()[0].clone();
    assert!(flaky.public);
    rig.sim.set_pod_fault(0, PodFault::Garbage);

    let first = rig.cycle().await;
    assert_eq!(failure_count(&rig, &flaky.pubkey).await, 1);
    let wait = wait_seconds(&rig, &flaky.pubkey, first.run_id).await;
    assert_eq!(wait, Some(120), "after 1 failure");

    // Right away, the healthy nodes are asked again; every node that failed waits.
    let report = rig.cycle().await;
    assert_eq!(report.totals.attempted, public - 1);
    assert_eq!(report.totals.success, public - 1);
    assert_eq!(report.totals.backoff, pods - (public - 1));

    // A minute on, the flaky node still waits; two minutes on, it is asked, and fails again.
    rig.let_a_minute_pass().await;
    let report = rig.cycle().await;
    assert_eq!(report.totals.backoff, pods - (public - 1));
    rig.let_a_minute_pass().await;
    let third = rig.cycle().await;
    assert_eq!(failure_count(&rig, &flaky.pubkey).await, 2);
    assert_eq!(
        wait_seconds(&rig, &flaky.pubkey, third.run_id).await,
        Some(240),
        "after 2 failures"
    );

    rig.sim.set_pod_fault(0, PodFault::None);
    for _ in 0..4 {
        rig.let_a_minute_pass().await;
    }
    let healed = rig.cycle().await;
    assert_eq!(failure_count(&rig, &flaky.pubkey).await, 0);
    assert_eq!(
        rig.count(&format!(
            "pnodes WHERE pubkey = '{}' AND reachable",
            flaky.pubkey
        ))
        .await,
        1
    );
    assert_eq!(
        wait_seconds(&rig, &flaky.pubkey, healed.run_id).await,
        None,
        "after a success, no wait"
    );
}

async fn failure_count(rig: &Rig, pubkey: &str) -> i64 {
    crate::collecting::scalar(
        &rig.conn,
        &format!("SELECT failure_count AS n FROM pnodes WHERE pubkey = '{pubkey}'"),
    )
    .await
}

/// How long the node must wait for its next get-stats, counted from the start of the cycle (run
/// `run`) that last asked it; `None` when it need not wait.
async fn wait_seconds(rig: &Rig, pubkey: &str, run: i64) -> Option<i64> {
    use entity::{ingestion_run, pnode};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let node = pnode::Entity::find()
        .filter(pnode::Column::Pubkey.eq(pubkey))
        .one(&rig.conn)
        .await
        .expect("query")
        .expect("the node");
    let run = ingestion_run::Entity::find_by_id(run)
        .one(&rig.conn)
        .await
        .expect("query")
        .expect("the run");
    node.next_stats_allowed_at
        .map(|next| (next - run.started_at).num_seconds())
}

async fn rates_come_from_consecutive_samples_and_are_null_across_a_counter_reset(backend: Backend) {
    let mut rig = Rig::start(&backend, SimConfig::default()).await;
    let public = rig.sim.pods().iter().filter(|p| p.public).count() as i64;

    rig.cycle().await;
    assert_eq!(
        rig.count("pnode_stats_samples WHERE bytes_per_second IS NOT NULL")
            .await,
        0,
        "no rate from one sample"
    );

    rig.let_a_minute_pass().await;
    rig.cycle().await;
    assert_eq!(
        rig.count("pnode_stats_samples WHERE bytes_per_second > 0 AND packets_in_per_sec > 0 AND delta_seconds >= 59").await,
        public,
        "every public node has a rate from its previous sample"
    );

    rig.sim.restart_pod(0);
    rig.let_a_minute_pass().await;
    rig.cycle().await;
    let restarted = &rig.sim.pods()[0].pubkey;
    let newest_rate_is_null = rig
        .count(&format!(
            "pnode_stats_samples s JOIN pnodes p ON p.id = s.pnode_id WHERE p.pubkey = '{restarted}' \
             AND s.bytes_per_second IS NULL AND s.packets_in_per_sec IS NULL \
             AND s.sampled_at = (SELECT MAX(sampled_at) FROM pnode_stats_samples WHERE pnode_id = p.id)"
        ))
        .await;
    assert_eq!(newest_rate_is_null, 1, "no rate across the restart");
    assert_eq!(
        rig.count("pnode_stats_samples WHERE bytes_per_second > 0")
            .await,
        2 * public - 1,
        "everyone else keeps a rate"
    );
}

/// The bug this catches: a success once allowed the next poll a minute after its results were
/// written, so at a one-minute interval a healthy node was asked every other cycle.
async fn healthy_nodes_get_stats_every_cycle_back_to_back_and_a_minute_apart(backend: Backend) {
    let mut rig = Rig::start(&backend, SimConfig::default()).await;
    let pods = rig.sim.pods().len() as i64;
    let public = rig.sim.pods().iter().filter(|p| p.public).count() as i64;

    // Private nodes refuse get-stats: after the first cycle they wait 2 minutes, are asked
    // again at the fifth (2 minutes on), and then wait 4 minutes.
    let private = pods - public;
    let waiting = [0, private, private, private, 0, private];
    for (step, waiting) in waiting.into_iter().enumerate() {
        // Three cycles back to back on the real clock, then three a minute apart.
        if step >= 3 {
            rig.let_a_minute_pass().await;
        }
        let report = rig.cycle().await;
        assert_eq!(
            report.totals.success, public,
            "cycle {step}: every public node answers"
        );
        assert_eq!(
            report.totals.backoff, waiting,
            "cycle {step}: only failures wait"
        );
        let status = rig.status().await;
        assert_eq!(
            (status.success, status.backoff),
            (public, waiting),
            "cycle {step}: the ingestion status says so too"
        );
    }
    assert_eq!(rig.count("pnode_stats_samples").await, 6 * public);
}
