//! A collection cycle against the simulated network: what it records, the get-stats backoff, and
//! rates across cycles.

use std::collections::HashSet;

use pnode_api::tools::sim::{PodFault, SimConfig};

use crate::{collecting::Rig, helpers::Backend};

on_both_backends!(
    a_cycle_records_every_valid_pod_once_per_seed_with_its_sightings,
    failures_back_off_exponentially_and_success_resets_them,
    rates_come_from_consecutive_samples_and_are_null_across_a_counter_reset,
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
    let flaky = rig.sim.pods()[0].clone();
    assert!(flaky.public);
    rig.sim.set_pod_fault(0, PodFault::Garbage);

    rig.cycle().await;
    assert_eq!(failure_count(&rig, &flaky.pubkey).await, 1);
    let wait = wait_seconds(&rig, &flaky.pubkey).await;
    assert!((115..=121).contains(&wait), "after 1 failure: {wait} s");

    // Right away, every node is still waiting: nothing is asked twice.
    let report = rig.cycle().await;
    assert_eq!(report.totals.attempted, 0);
    assert_eq!(report.totals.backoff, rig.sim.pods().len() as i64);

    rig.let_a_minute_pass().await;
    rig.cycle().await;
    let wait = wait_seconds(&rig, &flaky.pubkey).await;
    assert!((235..=241).contains(&wait), "after 2 failures: {wait} s");
    assert_eq!(failure_count(&rig, &flaky.pubkey).await, 2);

    rig.sim.set_pod_fault(0, PodFault::None);
    rig.let_a_minute_pass().await;
    rig.cycle().await;
    assert_eq!(failure_count(&rig, &flaky.pubkey).await, 0);
    assert_eq!(
        rig.count(&format!(
            "pnodes WHERE pubkey = '{}' AND reachable",
            flaky.pubkey
        ))
        .await,
        1
    );
    let wait = wait_seconds(&rig, &flaky.pubkey).await;
    assert!((55..=61).contains(&wait), "after a success: {wait} s");
}

async fn failure_count(rig: &Rig, pubkey: &str) -> i64 {
    crate::collecting::scalar(
        &rig.conn,
        &format!("SELECT failure_count AS n FROM pnodes WHERE pubkey = '{pubkey}'"),
    )
    .await
}

/// Seconds from the last attempt to the next allowed one.
async fn wait_seconds(rig: &Rig, pubkey: &str) -> i64 {
    use entity::pnode;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let node = pnode::Entity::find()
        .filter(pnode::Column::Pubkey.eq(pubkey))
        .one(&rig.conn)
        .await
        .expect("query")
        .expect("the node");
    let (Some(next), Some(attempt)) = (node.next_stats_allowed_at, node.last_stats_attempt_at)
    else {
        panic!("no backoff recorded: {node:?}");
    };
    (next - attempt).num_seconds()
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
