//! Pods and the credits API: stats over time, refusals, silence, garbage.

use std::time::Duration;

use super::*;

#[tokio::test]
async fn stats_grow_with_time_and_drop_after_a_restart() {
    let sim = SimNetwork::start(small()).await.expect("sim");
    let client = client();
    let pod = sim
        .pods()
        .into_iter()
        .position(|pod| pod.public)
        .expect("a public pod");
    let url = rpc_url(&sim.pods()[pod]);

    let before = client.stats(&url).await.expect("stats");
    sim.tick();
    let after = client.stats(&url).await.expect("stats");
    for (name, earlier, later) in [
        (
            "packets_received",
            before.packets_received,
            after.packets_received,
        ),
        ("packets_sent", before.packets_sent, after.packets_sent),
        ("total_bytes", before.total_bytes, after.total_bytes),
        ("uptime", before.uptime, after.uptime),
    ] {
        assert!(
            later > earlier && earlier > Some(0),
            "{name}: {earlier:?} -> {later:?}"
        );
    }
    assert_eq!(
        after.uptime,
        before.uptime.map(|up| up + TICK_SECONDS as u64)
    );

    sim.restart_pod(pod);
    let restarted = client.stats(&url).await.expect("stats");
    assert!(restarted.uptime < Some(60), "{restarted:?}");
    assert!(restarted.packets_received < after.packets_received);
    assert!(restarted.total_bytes < after.total_bytes);
    sim.stop().await;
}

#[tokio::test]
async fn private_faulty_and_silent_pods_fail_as_a_collector_must_expect() {
    let sim = SimNetwork::start(small()).await.expect("sim");
    let client = client();
    let pods = sim.pods();
    let private = pods.iter().find(|pod| !pod.public).expect("a private pod");
    let err = client.stats(&rpc_url(private)).await.expect_err("refused");
    assert_eq!(err.kind(), "connect", "{err}");

    let public: Vec<usize> = (0..pods.len()).filter(|&i| pods[i].public).collect();
    sim.set_pod_fault(public[0], PodFault::Silent);
    sim.set_pod_fault(public[1], PodFault::Garbage);
    sim.set_pod_fault(public[2], PodFault::Slow(Duration::from_millis(50)));
    let started = std::time::Instant::now();
    let err = client
        .stats(&rpc_url(&pods[public[0]]))
        .await
        .expect_err("silent");
    assert_eq!(err.kind(), "timeout", "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));
    let err = client
        .stats(&rpc_url(&pods[public[1]]))
        .await
        .expect_err("garbage");
    assert_eq!(err.kind(), "not_json", "{err}");
    assert!(
        client.stats(&rpc_url(&pods[public[2]])).await.is_ok(),
        "slow but within the timeout"
    );
    sim.stop().await;
}

#[tokio::test]
async fn the_credits_api_lists_every_pod_and_can_answer_garbage() {
    let sim = SimNetwork::start(small()).await.expect("sim");
    let http = pnode_api::net::http::Outbound::web_roots()
        .expect("TLS")
        .client()
        .no_proxy()
        .build()
        .expect("client");
    let credits: serde_json::Value = http
        .get(sim.credits_url())
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(credits["status"], "success");
    let ids: Vec<&str> = credits["pods_credits"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|c| c["pod_id"].as_str())
        .collect();
    assert_eq!(
        ids,
        sim.pods()
            .iter()
            .map(|p| p.pubkey.as_str())
            .collect::<Vec<_>>()
    );

    sim.set_credits_fault(true);
    let body = http
        .get(sim.credits_url())
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("text");
    assert!(
        serde_json::from_str::<serde_json::Value>(&body).is_err(),
        "{body}"
    );
    sim.stop().await;
}
