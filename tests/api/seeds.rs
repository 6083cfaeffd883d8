//! The seeds and each seed's own view, after real collection cycles against the simulated
//! network, served by a replica that configures no seeds.

use std::collections::HashSet;

use pnode_tools::sim::{SeedFault, SimConfig};
use serde_json::Value;

use crate::{
    collecting::Rig,
    helpers::{Backend, spawn_app_on},
};

on_both_backends!(
    each_seed_reports_its_last_cycle_and_its_own_view_of_the_network,
    the_network_history_follows_real_cycles,
    a_churning_network_leaves_version_and_address_changes_in_history,
);

fn pubkeys(nodes: &Value) -> HashSet<String> {
    nodes
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n["pubkey"].as_str().expect("pubkey").to_owned())
        .collect()
}

fn encoded(url: &str) -> String {
    url.replace(':', "%3A").replace('/', "%2F")
}

async fn each_seed_reports_its_last_cycle_and_its_own_view_of_the_network(backend: Backend) {
    let mut rig = Rig::start(&backend, SimConfig::default()).await;
    rig.cycle().await;
    rig.let_a_minute_pass().await;
    rig.sim.set_seed_fault(2, SeedFault::Garbage);
    let last = rig.cycle().await;
    let replica = spawn_app_on(&rig.db, |settings| settings.run_collector = false).await;
    let urls = rig.sim.seed_urls();
    let mut sorted = urls.clone();
    sorted.sort();

    let body = replica.get_json("/api/seeds").await;
    let seeds = body["seeds"].as_array().expect("seeds");
    assert_eq!(
        seeds
            .iter()
            .map(|s| s["baseUrl"].as_str().expect("url").to_owned())
            .collect::<Vec<_>>(),
        sorted,
        "the seeds the data names"
    );
    for seed in seeds {
        let url = seed["baseUrl"].as_str().expect("url");
        let index = urls.iter().position(|u| u == url).expect("a sim seed");
        assert_eq!(seed["configured"], false);
        assert_eq!(seed["lastCycle"]["cycleId"], last.run_id);
        if index == 2 {
            assert_eq!(seed["lastCycle"]["nodesReported"], 0);
            assert!(
                seed["lastCycle"]["error"]
                    .as_str()
                    .is_some_and(|e| e.starts_with("not_json"))
            );
        } else {
            assert_eq!(
                seed["lastCycle"]["nodesReported"],
                rig.sim.seen_by(index).len()
            );
            assert_eq!(seed["lastCycle"]["error"], Value::Null);
        }
        assert!(seed["lastAnswerAt"].is_string(), "{seed}");
    }

    for (index, url) in urls.iter().enumerate() {
        let by_url = replica
            .get_json(&format!("/api/seeds/{}/pnodes", encoded(url)))
            .await;
        let expected: HashSet<String> = rig.sim.seen_by(index).into_iter().collect();
        // The faulty seed's newest kept answer is the cycle before: what it saw then.
        if index != 2 {
            assert_eq!(pubkeys(&by_url["globalPnodes"]), expected, "{url}");
        } else {
            assert!(!pubkeys(&by_url["globalPnodes"]).is_empty(), "{url}");
        }
        let position = sorted.iter().position(|u| u == url).expect("listed") + 1;
        let by_position = replica
            .get_json(&format!("/api/seeds/{position}/pnodes"))
            .await;
        assert_eq!(by_position["globalPnodes"], by_url["globalPnodes"], "{url}");
        for node in by_url["globalPnodes"].as_array().expect("nodes") {
            assert!(
                node["seedBaseUrlsSeen"]
                    .as_array()
                    .expect("seen")
                    .iter()
                    .any(|s| s == url.as_str()),
                "{url} saw {node}"
            );
        }
        // The filters, orders and pages of /api/pnodes.
        let page = replica
            .get_json(&format!(
                "/api/seeds/{position}/pnodes?limit=5&offset=1&sort=pubkey&order=desc&reachable=false"
            ))
            .await;
        let mut unreachable: Vec<String> = by_url["globalPnodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .filter(|n| n["reachable"] == false)
            .map(|n| n["pubkey"].as_str().expect("pubkey").to_owned())
            .collect();
        unreachable.sort_by(|a, b| b.cmp(a));
        let shown: Vec<String> = page["pnodes"]
            .as_array()
            .expect("page")
            .iter()
            .map(|n| n["pubkey"].as_str().expect("pubkey").to_owned())
            .collect();
        assert_eq!(
            shown,
            unreachable
                .iter()
                .skip(1)
                .take(5)
                .cloned()
                .collect::<Vec<_>>()
        );
        assert_eq!(page["pagination"]["total"], unreachable.len());
    }

    for missing in [
        "/api/seeds/99/pnodes",
        "/api/seeds/http%3A%2F%2F10.9.9.9%3A1/pnodes",
    ] {
        assert_eq!(replica.get(missing).await.status(), 404, "{missing}");
    }
}

async fn the_network_history_follows_real_cycles(backend: Backend) {
    let mut rig = Rig::start(&backend, SimConfig::default()).await;
    let pods = rig.sim.pods();
    let public = pods.iter().filter(|p| p.public).count();
    for _ in 0..3 {
        rig.cycle().await;
        rig.let_a_minute_pass().await;
    }
    let replica = spawn_app_on(&rig.db, |settings| settings.run_collector = false).await;
    // The collector's clock is 3 minutes ahead of the wall: ask for a window that holds it.
    let from = (chrono::Utc::now() - chrono::Duration::minutes(5))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let to = (rig.clock.now() + chrono::Duration::minutes(5))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let body = replica
        .get_json(&format!(
            "/api/network/history?from={from}&to={to}&points=1"
        ))
        .await;
    let cycles = body["cycles"].as_array().expect("cycles");
    assert_eq!(cycles.len(), 1, "{body}");
    assert_eq!(cycles[0]["cycles"], 3);
    assert_eq!(cycles[0]["observedMax"], pods.len());
    assert_eq!(cycles[0]["publicAvg"], public as f64);
    assert_eq!(cycles[0]["reachableAvg"], public as f64);
    let network = replica.get_json("/api/network").await;
    assert_eq!(network["nodes"], pods.len());
    assert_eq!(network["reachable"], public);
    assert_eq!(network["seenInLastCycle"], pods.len());
    assert_eq!(network["lastCycle"]["public"], public);

    // The summary reads the copies the collector keeps on each node's row; the view reads the
    // history itself. They agree.
    let view = replica.get_json("/api/pnodes").await;
    let nodes = view["globalPnodes"].as_array().expect("nodes");
    let sum = |field: &str| nodes.iter().filter_map(|n| n[field].as_i64()).sum::<i64>();
    assert_eq!(
        network["storage"]["committedBytes"],
        sum("storageCommitted")
    );
    assert_eq!(network["storage"]["usedBytes"], sum("storageUsed"));
    assert_eq!(
        network["public"],
        nodes.iter().filter(|n| n["isPublic"] == true).count()
    );
    let mut versions: Vec<(Value, u64)> = network["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .map(|v| (v["version"].clone(), v["nodes"].as_u64().expect("count")))
        .collect();
    versions.sort_by_key(|(v, _)| v.to_string());
    let mut from_view: std::collections::BTreeMap<String, (Value, u64)> = Default::default();
    for node in nodes {
        let version = node["latestVersion"].clone();
        from_view
            .entry(version.to_string())
            .or_insert((version, 0))
            .1 += 1;
    }
    assert_eq!(versions, from_view.into_values().collect::<Vec<_>>());

    // Retention keeping no observation: the copies go with the rows, in the summary as in the
    // view.
    let nothing_kept = pnode_api::collector::settings::RetentionSettings {
        observations: std::time::Duration::ZERO,
        ..pnode_api::collector::settings::RetentionSettings::default()
    };
    pnode_api::collector::retention::prune(&rig.conn, &nothing_kept, rig.clock.now(), 1000)
        .await
        .expect("prune");
    let network = replica.get_json("/api/network").await;
    assert_eq!(network["storage"]["committedBytes"], 0);
    assert_eq!(network["public"], 0);
    assert_eq!(
        network["versions"],
        serde_json::json!([{"version": null, "nodes": pods.len()}])
    );
}

/// The demo's network changes versions and addresses as time passes (`churn_every`): collected
/// cycle after cycle, a node's history shows each change once, when it was first seen.
async fn a_churning_network_leaves_version_and_address_changes_in_history(backend: Backend) {
    let config = SimConfig {
        churn_every: 2,
        ..SimConfig::default()
    };
    let mut rig = Rig::start(&backend, config).await;
    for _ in 0..8 {
        rig.cycle().await;
        rig.let_a_minute_pass().await;
    }
    let replica = spawn_app_on(&rig.db, |settings| settings.run_collector = false).await;
    let from = (chrono::Utc::now() - chrono::Duration::minutes(5))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let to = (rig.clock.now() + chrono::Duration::minutes(5))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let pod = &rig.sim.pods()[0];
    let history = replica
        .get_json(&format!(
            "/api/pnodes/{}/history?from={from}&to={to}",
            pod.pubkey
        ))
        .await;
    let changes = history["gossip"].as_array().expect("gossip");
    let changed = |field: &str| {
        changes
            .iter()
            .filter(|c| {
                c["changed"]
                    .as_array()
                    .is_some_and(|f| f.iter().any(|x| x == field))
            })
            .count()
    };
    assert!(changed("version") >= 2, "{history}");
    assert!(changed("address") >= 1, "{history}");
    let times: Vec<&str> = changes
        .iter()
        .map(|c| c["firstSeenAt"].as_str().expect("time"))
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] < w[1]),
        "each once, in order: {times:?}"
    );
    assert_eq!(
        changes.last().map(|c| c["address"].clone()),
        Some(serde_json::json!(pod.address)),
        "the newest state is the pod's own"
    );
}
