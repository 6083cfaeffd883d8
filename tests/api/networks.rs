//! Two networks side by side: two simulated networks that share pubkeys, each with its own seeds
//! and credits source, collected by the real app; every endpoint's `network=`, and the shared
//! pubkeys kept apart (history, credits, scores, events). And seeds that disagree on a node.

use std::{collections::HashSet, time::Duration};

use pnode_api::{
    collector::{Clock, Collector, settings::sources},
    domain::network::Network,
    net::http::Outbound,
};
use pnode_tools::sim::{SimConfig, SimNetwork};
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::{
    collecting::{fast_settings, migrated, scalar},
    helpers::{Backend, TestApp, TestDb, spawn_app_with},
};

on_both_backends!(
    two_networks_sharing_pubkeys_are_kept_apart_on_every_endpoint,
    seeds_that_disagree_on_a_node_give_one_value_and_no_event,
);

/// The pods a sim's seeds report (each seed sees part of its network), by pubkey.
fn pubkeys(sim: &SimNetwork) -> HashSet<String> {
    (0..sim.seed_urls().len())
        .flat_map(|seed| sim.seen_by(seed))
        .collect()
}

fn networks_of(nodes: &Value) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = nodes
        .as_array()
        .expect("nodes")
        .iter()
        .map(|node| {
            (
                node["network"].as_str().expect("network").to_owned(),
                node["pubkey"].as_str().expect("pubkey").to_owned(),
            )
        })
        .collect();
    found.sort();
    found
}

/// GETs `path` expecting `status`, returning the JSON body.
async fn get_status(app: &TestApp, path: &str, status: u16) -> Value {
    let response = app.get(path).await;
    assert_eq!(response.status(), status, "GET {path}");
    let body = response.text().await.expect("body");
    serde_json::from_str(&body).unwrap_or_else(|err| panic!("GET {path}: {err}: {body}"))
}

/// Waits until both networks have finished a cycle and stored credits.
async fn wait_for_both(app: &TestApp) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let body = app.get_json("/api/networks").await;
        let ready = body["networks"].as_array().is_some_and(|networks| {
            networks.len() == 2
                && networks.iter().all(|network| {
                    network["newestCycle"].is_object()
                        && network["credits"]["lastChangeAt"].is_string()
                })
        });
        if ready {
            return body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "both networks collected: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The credits each pubkey has at `url` (a sim's credits source), read as the collector reads it.
async fn credits_at(url: &str) -> Vec<(String, i64)> {
    let body: Value = crate::helpers::http()
        .build()
        .expect("client")
        .get(url)
        .send()
        .await
        .expect("credits")
        .json()
        .await
        .expect("JSON");
    body["pods_credits"]
        .as_array()
        .expect("pods_credits")
        .iter()
        .map(|pod| {
            (
                pod["pod_id"].as_str().expect("id").to_owned(),
                pod["credits"].as_i64().expect("credits"),
            )
        })
        .collect()
}

async fn two_networks_sharing_pubkeys_are_kept_apart_on_every_endpoint(backend: Backend) {
    let config = |pods, seeds| SimConfig {
        pods,
        seeds,
        random_seed: 5,
        ..SimConfig::default()
    };
    let main = SimNetwork::start(config(30, 2)).await.expect("mainnet");
    let dev = SimNetwork::start(config(12, 2)).await.expect("devnet");
    // The devnet's credits grow further than the mainnet's: a shared pubkey has two values.
    for _ in 0..3 {
        dev.tick();
    }
    let (main_keys, dev_keys) = (pubkeys(&main), pubkeys(&dev));
    let shared: Vec<String> = {
        let mut shared: Vec<String> = main_keys.intersection(&dev_keys).cloned().collect();
        shared.sort();
        shared
    };
    assert!(!shared.is_empty(), "the two sims share pubkeys");
    let main_only = main_keys.difference(&dev_keys).next().expect("one").clone();
    let (main_urls, dev_urls) = (main.seed_urls(), dev.seed_urls());
    let app = spawn_app_with(&backend, |settings| {
        settings.seeds = format!(
            "mainnet:m1={},mainnet:{},devnet:d1={},devnet:{}",
            main_urls[0], main_urls[1], dev_urls[0], dev_urls[1]
        )
        .parse()
        .expect("seeds");
        settings.collector = fast_settings();
        settings.collector.interval = Duration::from_secs(3600);
        settings.collector.credits_url = format!(
            "mainnet:{},devnet:{}",
            main.credits_url(),
            dev.credits_url()
        )
        .into();
    })
    .await;
    let networks = wait_for_both(&app).await;

    // /api/networks
    let [devnet, mainnet] = networks["networks"]
        .as_array()
        .expect("networks")
        .as_slice()
    else {
        panic!("two networks: {networks}");
    };
    assert_eq!(
        (
            &devnet["name"],
            &devnet["seeds"]["configured"],
            &devnet["nodes"]
        ),
        (&json!("devnet"), &json!(2), &json!(dev_keys.len()))
    );
    assert_eq!(
        (
            &mainnet["name"],
            &mainnet["seeds"]["configured"],
            &mainnet["nodes"]
        ),
        (&json!("mainnet"), &json!(2), &json!(main_keys.len()))
    );
    assert_eq!(devnet["credits"]["url"], json!(dev.credits_url()));
    assert_eq!(mainnet["seeds"]["healthy"], json!(2));

    // The full view lists every network's nodes, a shared pubkey once per network.
    let all = app.get_json("/api/pnodes").await;
    let mut expected: Vec<(String, String)> = main_keys
        .iter()
        .map(|key| ("mainnet".to_owned(), key.clone()))
        .chain(
            dev_keys
                .iter()
                .map(|key| ("devnet".to_owned(), key.clone())),
        )
        .collect();
    expected.sort();
    assert_eq!(networks_of(&all["globalPnodes"]), expected);
    let devnet_only = app.get_json("/api/pnodes?network=devnet").await;
    assert!(
        networks_of(&devnet_only["globalPnodes"])
            .iter()
            .all(|(network, _)| network == "devnet")
    );
    assert_eq!(
        devnet_only["globalPnodes"].as_array().map(Vec::len),
        Some(dev_keys.len())
    );
    let both = app.get_json("/api/pnodes?network=mainnet,devnet").await;
    assert_eq!(networks_of(&both["globalPnodes"]), expected);
    let page = app
        .get_json("/api/pnodes?network=mainnet&limit=5&sort=score&order=desc")
        .await;
    assert_eq!(page["pagination"]["total"], json!(main_keys.len()));
    let refused = get_status(&app, "/api/pnodes?network=testnet", 400).await;
    assert!(
        refused["error"]
            .as_str()
            .is_some_and(|e| e.contains("`network`")),
        "{refused}"
    );
    let csv = app
        .get("/api/pnodes?network=devnet&format=csv")
        .await
        .text()
        .await
        .expect("csv");
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(rows.len(), dev_keys.len(), "{csv}");
    assert!(rows.iter().all(|row| row.ends_with(",devnet")), "{csv}");

    // One pubkey on two networks: 409 without `network=`, each network's node with it.
    let key = &shared[0];
    let ambiguous = get_status(&app, &format!("/api/pnodes/{key}"), 409).await;
    assert_eq!(ambiguous["code"], "ambiguous_pubkey");
    assert_eq!(ambiguous["networks"], json!(["devnet", "mainnet"]));
    let on_dev = app
        .get_json(&format!("/api/pnodes/{key}?network=devnet"))
        .await;
    let on_main = app
        .get_json(&format!("/api/pnodes/{key}?network=mainnet"))
        .await;
    assert_eq!(
        (&on_dev["network"], &on_main["network"]),
        (&json!("devnet"), &json!("mainnet"))
    );
    assert_ne!(on_dev["id"], on_main["id"]);
    let credit = |credits: &[(String, i64)]| {
        credits
            .iter()
            .find(|(pubkey, _)| pubkey == key)
            .map(|(_, credits)| *credits)
    };
    let (dev_credits, main_credits) = (
        credits_at(&dev.credits_url()).await,
        credits_at(&main.credits_url()).await,
    );
    assert_eq!(on_dev["latestCredits"].as_i64(), credit(&dev_credits));
    assert_eq!(on_main["latestCredits"].as_i64(), credit(&main_credits));
    assert_ne!(
        on_dev["latestCredits"], on_main["latestCredits"],
        "each network's own credits"
    );
    let dev_seeds: Vec<Value> = dev_urls.iter().map(|url| json!(url)).collect();
    assert!(
        on_dev["seedBaseUrlsSeen"]
            .as_array()
            .expect("seeds")
            .iter()
            .all(|seed| dev_seeds.contains(seed)),
        "{on_dev}"
    );
    let alone = app.get_json(&format!("/api/pnodes/{main_only}")).await;
    assert_eq!(alone["network"], "mainnet");
    get_status(
        &app,
        &format!("/api/pnodes/{main_only}?network=devnet"),
        404,
    )
    .await;
    get_status(&app, &format!("/api/pnodes/{key}/history"), 409).await;
    let history = app
        .get_json(&format!("/api/pnodes/{key}/history?network=devnet"))
        .await;
    assert_eq!(history["network"], "devnet");
    assert!(
        history["seeds"]
            .as_array()
            .expect("seeds")
            .iter()
            .all(|seed| dev_seeds.contains(&seed["seedBaseUrl"])),
        "{history}"
    );

    // Aggregates: one network, or all of them with each one's figures under `networks`.
    let board = app
        .get_json("/api/leaderboard?network=devnet&limit=100")
        .await;
    let entries = board["entries"].as_array().expect("entries");
    assert!(
        !entries.is_empty() && entries.iter().all(|e| e["network"] == "devnet"),
        "{board}"
    );
    let summary = app.get_json("/api/network").await;
    assert_eq!(summary["nodes"], json!(main_keys.len() + dev_keys.len()));
    let per_network: Vec<(Value, Value)> = summary["networks"]
        .as_array()
        .expect("networks")
        .iter()
        .map(|n| (n["network"].clone(), n["nodes"].clone()))
        .collect();
    assert_eq!(
        per_network,
        [
            (json!("devnet"), json!(dev_keys.len())),
            (json!("mainnet"), json!(main_keys.len()))
        ]
    );
    let dev_summary = app.get_json("/api/network?network=devnet").await;
    assert_eq!(dev_summary["nodes"], json!(dev_keys.len()));
    assert_eq!(dev_summary["seenInLastCycle"], json!(dev_keys.len()));
    let cycles = app.get_json("/api/network/history?network=devnet").await;
    assert_eq!(cycles["networks"].as_array().map(Vec::len), Some(1));
    assert_eq!(cycles["cycles"][0]["cycles"], 1, "{cycles}");
    let seeds = app.get_json("/api/seeds?network=devnet").await;
    assert_eq!(
        seeds["seeds"]
            .as_array()
            .expect("seeds")
            .iter()
            .map(|s| (s["network"].clone(), s["baseUrl"].clone()))
            .collect::<Vec<_>>(),
        dev_urls
            .iter()
            .map(|url| (json!("devnet"), json!(url)))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        app.get_json("/api/seeds").await["seeds"]
            .as_array()
            .map(Vec::len),
        Some(4)
    );
    let status = app.get_json("/api/ingestion-status?network=devnet").await;
    assert_eq!(status["observed"], json!(dev_keys.len()));
    let status = app.get_json("/api/ingestion-status").await;
    assert_eq!(status["observed"], json!(main_keys.len() + dev_keys.len()));
    assert_eq!(status["networks"].as_array().map(Vec::len), Some(2));
    get_status(&app, "/api/ingestion-status?network=nope", 400).await;

    // Events carry their network, and a stream of one network gets only its events.
    let events = read_events(&app, "/api/events?network=devnet").await;
    assert!(!events.is_empty());
    assert!(
        events.iter().all(|event| event["network"] == "devnet"),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|event| event["kind"] == "node.appeared" && event["pubkey"] == json!(key)),
        "{events:?}"
    );
    let every = read_events(&app, "/api/events").await;
    let appeared = every
        .iter()
        .filter(|event| event["kind"] == "node.appeared" && event["pubkey"] == json!(key))
        .count();
    assert_eq!(appeared, 2, "a shared pubkey appears once on each network");
}

/// The events replayed to a stream opened with `Last-Event-ID: 0` at `path`, until it has sent
/// nothing new for a second.
async fn read_events(app: &TestApp, path: &str) -> Vec<Value> {
    let mut response = app
        .client
        .get(app.url(path))
        .header("Last-Event-ID", "0")
        .send()
        .await
        .expect("stream");
    assert_eq!(response.status(), 200, "{path}");
    let mut text = String::new();
    while let Ok(Ok(Some(chunk))) =
        tokio::time::timeout(Duration::from_secs(1), response.chunk()).await
    {
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    text.lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .map(|data| serde_json::from_str(data).expect("an event"))
        .collect()
}

/// Two seeds of one network report one node with another version and address each, cycle after
/// cycle, with real, growing timestamps: for six cycles as fresh as each other (the first seed
/// listed wins every time: one value, no version or address event), then for three the second
/// fresher (its report wins from the first of them on: one change, announced once).
async fn seeds_that_disagree_on_a_node_give_one_value_and_no_event(backend: Backend) {
    const KEY: &str = "7T4zPNNDAT7rwkQ6Rf2QyMvLwowQ4KDSxKRXF9qEtYvR";
    let empty = || SimConfig {
        pods: 0,
        duplicate_pubkeys: 0,
        missing_pubkeys: 0,
        invalid_pubkeys: 0,
        ..SimConfig::default()
    };
    let (first, second) = (
        SimNetwork::start(SimConfig {
            seeds: 1,
            ..empty()
        })
        .await
        .expect("sim"),
        SimNetwork::start(SimConfig {
            seeds: 1,
            ..empty()
        })
        .await
        .expect("sim"),
    );
    let db = TestDb::create(&backend).await;
    let pool = migrated(&db.url).await;
    let seeds = format!("a={},b={}", first.seed_urls()[0], second.seed_urls()[0])
        .parse()
        .expect("seeds");
    let settings = fast_settings();
    let mut networks =
        sources(&seeds, &settings.credits_url, &Network::default_network()).expect("one network");
    let clock = Clock::default();
    let outbound = Outbound::web_roots().expect("TLS");
    let mut collector = Collector::new(pool, networks.remove(0), settings, &outbound, &db.url)
        .expect("collector")
        .with_clock(clock.clone());
    let (_stop_switch, stop) = watch::channel(false);
    let conn = db.connect().await;
    let pod = |version: &str, address: &str, last_seen: i64| {
        json!({"address": address, "pubkey": KEY, "version": version,
               "last_seen_timestamp": last_seen, "is_public": false, "rpc_port": 6000})
    };
    let start = chrono::Utc::now().timestamp();
    for cycle in 0..9_i64 {
        let seen = start + 60 * cycle;
        let second_seen = if cycle < 6 { seen } else { seen + 5 };
        first.set_extra_pods(vec![pod("0.8.0", "127.0.0.8:9001", seen)]);
        second.set_extra_pods(vec![pod("0.8.1", "127.0.0.9:9001", second_seen)]);
        collector
            .run_cycle(&stop)
            .await
            .expect("a cycle")
            .expect("it collects");
        if cycle == 5 {
            let changes = scalar(
                &conn,
                "SELECT COUNT(*) AS n FROM events WHERE kind IN ('node.version', 'node.address')",
            )
            .await;
            assert_eq!(changes, 0, "six cycles of disagreement announce nothing");
        }
        let (version, address) = if cycle < 6 {
            ("0.8.0", "127.0.0.8:9001")
        } else {
            ("0.8.1", "127.0.0.9:9001")
        };
        let copies = scalar(
            &conn,
            &format!(
                "SELECT COUNT(*) AS n FROM pnodes WHERE gossip_version = '{version}' AND gossip_address = '{address}'"
            ),
        )
        .await;
        assert_eq!(
            copies, 1,
            "cycle {cycle}: the node's row has {version} at {address}"
        );
        let view = pnode_api::view::find(&conn, KEY, None, chrono::Utc::now())
            .await
            .expect("find");
        let pnode_api::view::Resolved::Node(node) = view else {
            panic!("cycle {cycle}: one node");
        };
        assert_eq!(
            (
                node.latest_version.as_deref(),
                node.latest_address.as_deref()
            ),
            (Some(version), Some(address)),
            "cycle {cycle}: the view agrees"
        );
        clock.advance(Duration::from_secs(60));
    }
    let changes = scalar(
        &conn,
        "SELECT COUNT(*) AS n FROM events WHERE kind IN ('node.version', 'node.address')",
    )
    .await;
    // The one change: from the first seed's report to the fresher second one's, at cycle 6.
    assert_eq!(
        changes, 2,
        "one version and one address event, when the fresher report came"
    );
    assert_eq!(
        scalar(
            &conn,
            "SELECT COUNT(*) AS n FROM events WHERE kind = 'node.appeared'"
        )
        .await,
        1
    );
}
