//! The collector as the rest of the service sees it: one collector per PostgreSQL, the figures of
//! /api/ingestion-status, and the collected network in /api/pnodes.

use std::{
    collections::HashSet,
    time::{Duration, Instant},
};

use pnode_tools::sim::{SeedFault, SimConfig, SimNetwork};
use serde_json::json;
use tokio::sync::watch;

use crate::{
    collecting::{Rig, collector_for, connect, fast_settings},
    helpers::{Backend, spawn_app, spawn_app_with, wait_until},
};

on_both_backends!(
    ingestion_status_reports_the_newest_run_globally_and_per_seed,
    the_view_shows_the_collected_network_end_to_end,
    credits_reach_the_view_and_a_malformed_answer_changes_nothing,
);

/// Two collectors over one PostgreSQL database: only the holder of the advisory lock writes; when
/// it lets go, the other takes over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_collectors_on_one_database_only_one_writes_per_cycle() {
    let Some(backend) = Backend::postgres() else {
        return;
    };
    let mut rig = Rig::start(&backend, SimConfig::default()).await;
    let other_pool = connect(&rig.db.url).await;
    let mut other = collector_for(&rig.sim, &other_pool, &rig.db.url);
    let (_switch, stop) = watch::channel(false);

    let (first, second) = tokio::join!(rig.collector.run_cycle(&stop), other.run_cycle(&stop));
    let (first, second) = (first.expect("cycle"), second.expect("cycle"));
    assert!(
        first.is_some() != second.is_some(),
        "exactly one collects: {first:?} / {second:?}"
    );
    assert_eq!(rig.count("ingestion_runs").await, 1);

    let (holder, mut waiting) = if first.is_some() {
        (rig.collector, other)
    } else {
        (other, rig.collector)
    };
    assert!(
        waiting.run_cycle(&stop).await.expect("cycle").is_none(),
        "the lock is still held"
    );

    // Told to stop before it starts, the holder's loop ends at once and lets go of the lock.
    holder.run(watch::channel(true).1).await;
    assert!(
        waiting.run_cycle(&stop).await.expect("cycle").is_some(),
        "the other replica takes over"
    );
}

async fn ingestion_status_reports_the_newest_run_globally_and_per_seed(backend: Backend) {
    let app = spawn_app(&backend).await;
    let sim = SimNetwork::start(SimConfig::default()).await.expect("sim");
    sim.set_seed_fault(2, SeedFault::Down);
    let pool = connect(&app.db.url).await;
    let mut collector = collector_for(&sim, &pool, &app.db.url);
    let (_switch, stop) = watch::channel(false);

    let empty = app.get_json("/api/ingestion-status").await;
    assert_eq!(
        empty,
        json!({"lastRunStartedAt": null, "lastRunFinishedAt": null, "attempted": 0, "success": 0,
               "backoff": 0, "failed": 0, "observed": 0, "isRunning": false,
               "networks": [{"network": "mainnet", "lastRunStartedAt": null,
                   "lastRunFinishedAt": null, "attempted": 0, "success": 0, "backoff": 0,
                   "failed": 0, "observed": 0, "isRunning": false}]})
    );

    let report = collector
        .run_cycle(&stop)
        .await
        .expect("cycle")
        .expect("collects");

    let global = app
        .get_json("/api/ingestion-status?seedBaseUrl=global")
        .await;
    let t = &report.totals;
    assert_eq!(
        (
            global["attempted"].as_i64(),
            global["success"].as_i64(),
            global["failed"].as_i64(),
            global["backoff"].as_i64(),
            global["observed"].as_i64()
        ),
        (
            Some(t.attempted),
            Some(t.success),
            Some(t.failed),
            Some(t.backoff),
            Some(t.observed)
        )
    );
    assert!(global["lastRunStartedAt"].is_string() && global["lastRunFinishedAt"].is_string());
    assert_eq!(global["isRunning"], false);
    assert_eq!(
        app.get_json("/api/ingestion-status").await,
        global,
        "global is the default"
    );

    for (seed, seed_report) in sim.seed_urls().iter().zip(&report.seeds) {
        let one = app
            .get_json(&format!("/api/ingestion-status?seedBaseUrl={seed}"))
            .await;
        let c = &seed_report.counts;
        assert_eq!(
            (
                one["attempted"].as_i64(),
                one["success"].as_i64(),
                one["failed"].as_i64(),
                one["observed"].as_i64()
            ),
            (
                Some(c.attempted),
                Some(c.success),
                Some(c.failed),
                Some(c.observed)
            ),
            "{seed}"
        );
    }
    assert_eq!(
        report.seeds[2].counts.observed, 0,
        "the seed that was down saw nothing"
    );

    let unknown = app
        .get_json("/api/ingestion-status?seedBaseUrl=http://127.0.0.1:1")
        .await;
    assert_eq!(
        (unknown["observed"].as_i64(), unknown["attempted"].as_i64()),
        (Some(0), Some(0))
    );

    let bad = app.get("/api/ingestion-status?seedBaseUrl=nowhere").await;
    assert_eq!(bad.status(), 400);
    let body: serde_json::Value = bad.json().await.expect("json");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("`seedBaseUrl`")),
        "{body}"
    );
}

async fn the_view_shows_the_collected_network_end_to_end(backend: Backend) {
    let sim = SimNetwork::start(SimConfig::default()).await.expect("sim");
    let seeds = sim.seed_urls();
    let app = spawn_app_with(&backend, |settings| {
        settings.seeds = seeds.join(",").parse().expect("seeds");
        settings.collector = fast_settings();
    })
    .await;
    let pods = sim.pods();

    // The app's own collector runs every 500 ms; wait for its first cycle to finish (gossip is
    // written before get-stats is, so the view alone would show a half-done cycle).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = app.get_json("/api/ingestion-status").await;
        if status["lastRunFinishedAt"].is_string() {
            break;
        }
        assert!(Instant::now() < deadline, "no cycle finished: {status}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let body = app.get_json("/api/pnodes").await;
    assert_eq!(
        body["globalPnodes"].as_array().map(Vec::len),
        Some(pods.len()),
        "{body}"
    );

    assert_eq!(body["seeds"].as_array().map(Vec::len), Some(seeds.len()));
    for pod in &pods {
        let node = body["globalPnodes"]
            .as_array()
            .and_then(|nodes| nodes.iter().find(|n| n["pubkey"] == pod.pubkey.as_str()))
            .unwrap_or_else(|| panic!("{} is missing", pod.pubkey));
        let seen: HashSet<&str> = node["seedBaseUrlsSeen"]
            .as_array()
            .expect("seeds")
            .iter()
            .filter_map(|s| s.as_str())
            .collect();
        let expected: HashSet<&str> = seeds
            .iter()
            .enumerate()
            .filter(|(i, _)| sim.seen_by(*i).contains(&pod.pubkey))
            .map(|(_, s)| s.as_str())
            .collect();
        assert_eq!(seen, expected, "{}", pod.pubkey);
        assert_eq!(node["reachable"], pod.public, "{}", pod.pubkey);
        assert_eq!(
            node["latestStats"].is_object(),
            pod.public,
            "{}",
            pod.pubkey
        );
        assert_eq!(node["latestAddress"].as_str(), Some(pod.address.as_str()));
    }
}

async fn credits_reach_the_view_and_a_malformed_answer_changes_nothing(backend: Backend) {
    let sim = SimNetwork::start(SimConfig::default()).await.expect("sim");
    let seeds = sim.seed_urls();
    let credits_url = sim.credits_url();
    let app = spawn_app_with(&backend, |settings| {
        settings.seeds = seeds.join(",").parse().expect("seeds");
        settings.collector = fast_settings();
        settings.collector.credits_url = credits_url.into();
        settings.collector.credits_interval = Duration::from_millis(300);
    })
    .await;

    let credited = || async {
        let body = app.get_json("/api/pnodes").await;
        body["globalPnodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .map(|n| {
                (
                    n["pubkey"].as_str().unwrap_or_default().to_owned(),
                    n["latestCredits"].as_i64(),
                )
            })
            .collect::<Vec<_>>()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let before = loop {
        let nodes = credited().await;
        if nodes.len() == sim.pods().len() && nodes.iter().all(|(_, c)| c.is_some()) {
            break nodes;
        }
        assert!(
            Instant::now() < deadline,
            "credits never reached the view: {nodes:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let snapshots = crate::collecting::scalar(
        &app.db.connect().await,
        "SELECT COUNT(*) AS n FROM pod_credits_snapshots",
    )
    .await;
    assert!(snapshots >= sim.pods().len() as i64);

    // A malformed answer changes nothing, however often it is fetched (and the credits it
    // hides have moved on: a refresh that read them would change the view).
    sim.set_credits_fault(true);
    sim.tick();
    let served = sim.credits_served();
    wait_until("three garbage answers fetched", || async {
        sim.credits_served() >= served + 3
    })
    .await;
    assert_eq!(credited().await, before);
    // The source heals: the credits that moved reach the view.
    sim.set_credits_fault(false);
    wait_until("the new credits in the view", || async {
        credited().await != before
    })
    .await;
}
