//! `pnode-api demo` starts, collects its simulated network and serves it.

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
        if status["lastRunFinishedAt"].is_string() {
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

    assert_eq!(nodes.len(), 300, "every simulated pod is in the view");
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
