//! `pnode-api demo` starts, collects its two simulated networks and serves them.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::{binary::Server, helpers::TestDb};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_collects_a_simulated_network_and_serves_it() {
    let db = TestDb::create(&crate::helpers::Backend::Sqlite).await;
    let mut demo = Server::run("demo", &db.url, &[]);
    let addr = demo.wait_until_listening();
    let client = crate::helpers::http().build().expect("client");

    let deadline = Instant::now() + Duration::from_secs(60);
    let nodes = loop {
        let status: serde_json::Value = client
            .get(format!("http://{addr}/api/ingestion-status"))
            .send()
            .await
            .expect("status")
            .json()
            .await
            .expect("json");
        let both = status["networks"].as_array().is_some_and(|networks| {
            networks.len() == 2 && networks.iter().all(|n| n["lastRunFinishedAt"].is_string())
        });
        if both {
            let view: serde_json::Value = client
                .get(format!("http://{addr}/api/pnodes"))
                .send()
                .await
                .expect("view")
                .json()
                .await
                .expect("json");
            break view["globalPnodes"].as_array().expect("nodes").clone();
        }
        assert!(
            Instant::now() < deadline,
            "the demo never finished a cycle: {status}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };

    let on = |network: &str| nodes.iter().filter(|n| n["network"] == network).count();
    assert_eq!(
        on("mainnet"),
        300,
        "every simulated mainnet pod is in the view"
    );
    // Two seeds see part of the devnet each.
    assert!((60..=120).contains(&on("devnet")), "{}", on("devnet"));
    let mut pubkeys: Vec<&str> = nodes.iter().filter_map(|n| n["pubkey"].as_str()).collect();
    let listed = pubkeys.len();
    pubkeys.sort_unstable();
    pubkeys.dedup();
    assert!(
        listed > pubkeys.len(),
        "a shared pubkey is a node on each network"
    );
    assert!(
        nodes
            .iter()
            .any(|n| n["reachable"] == true && n["latestStats"].is_object())
    );
    assert!(
        nodes
            .iter()
            .all(|n| n["seedsSeenCount"].as_u64().is_some_and(|c| c >= 1))
    );

    nix::sys::signal::kill(demo.pid(), Signal::SIGINT).expect("Ctrl-C");
    assert_eq!(demo.wait_for_exit(Duration::from_secs(30)).code(), Some(0));
}
