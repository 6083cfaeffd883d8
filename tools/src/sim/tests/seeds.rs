//! Seeds: their views, their lag, the legacy method, and every fault.

use std::{collections::HashSet, time::Duration};

use super::*;
use pnode_api::net::{
    http::Outbound,
    prpc::{PodsMethod, PrpcError},
};

#[tokio::test]
async fn the_client_reads_every_seed_of_a_started_network() {
    let sim = SimNetwork::start(SimConfig::default()).await.expect("sim");
    let truth = sim.pods();
    assert_eq!(truth.len(), 40);
    assert!(truth.iter().all(|pod| {
        bs58::decode(&pod.pubkey)
            .into_vec()
            .is_ok_and(|key| key.len() == 32)
    }));
    let client = PrpcClient::new(&Outbound::web_roots().expect("TLS"), Duration::from_secs(2));
    let mut seen_somewhere = HashSet::new();

    for (seed, url) in sim.seed_urls().iter().enumerate() {
        let answer = client.pods(url, None).await.expect("pods");
        assert_eq!(answer.method, PodsMethod::WithStats);
        assert_eq!(answer.malformed, 0);
        let expected = sim.seen_by(seed);
        // Every seen pod once, one duplicate, one pod without pubkey, one invalid one.
        assert_eq!(answer.pods.len(), expected.len() + 3, "seed {seed}");
        assert_eq!(answer.total_count, Some(answer.pods.len() as u64));
        assert!(
            expected.len() < truth.len(),
            "seed {seed} has a partial view"
        );

        let valid: HashSet<&str> = answer
            .pods
            .iter()
            .filter_map(|pod| pod.pubkey.as_deref())
            .filter(|key| truth.iter().any(|pod| pod.pubkey == *key))
            .collect();
        assert_eq!(valid, expected.iter().map(String::as_str).collect());
        seen_somewhere.extend(expected);

        let addresses_of = |key: &str| {
            answer
                .pods
                .iter()
                .filter(|pod| pod.pubkey.as_deref() == Some(key))
                .map(|pod| pod.address.clone())
                .collect::<HashSet<_>>()
        };
        assert!(
            valid.iter().any(|key| addresses_of(key).len() == 2),
            "a pubkey at two addresses"
        );
        assert_eq!(
            answer
                .pods
                .iter()
                .filter(|pod| pod.pubkey.is_none())
                .count(),
            1
        );
        assert!(
            answer
                .pods
                .iter()
                .any(|pod| pod.pubkey.as_deref() == Some("TestPubkey14"))
        );

        for pod in answer.pods.iter().filter(|pod| pod.pubkey.is_some()) {
            let Some(known) = truth
                .iter()
                .find(|t| Some(&t.pubkey) == pod.pubkey.as_ref())
            else {
                continue;
            };
            assert_eq!(pod.rpc_port, Some(known.rpc_port));
            if known.public {
                assert_eq!(pod.is_public, Some(true));
            } else {
                assert_ne!(pod.is_public, Some(true));
            }
            assert!(
                pod.last_seen_timestamp.is_some() && pod.version.is_some() && pod.uptime.is_some()
            );
        }
        let private_flags: HashSet<Option<bool>> = answer
            .pods
            .iter()
            .filter(|pod| pod.is_public != Some(true))
            .map(|pod| pod.is_public)
            .collect();
        assert_eq!(
            private_flags,
            HashSet::from([Some(false), None]),
            "private pods say false or null"
        );
    }
    let all: HashSet<String> = truth.into_iter().map(|pod| pod.pubkey).collect();
    assert_eq!(seen_somewhere, all, "every pod is seen by some seed");
    sim.stop().await;
}

#[tokio::test]
async fn seeds_lag_behind_each_other_and_their_views_move_with_time() {
    let sim = SimNetwork::start(small()).await.expect("sim");
    let client = client();
    let urls = sim.seed_urls();
    let first = client.pods(&urls[0], None).await.expect("seed 0");
    let second = client.pods(&urls[1], None).await.expect("seed 1");
    let lag = first.pods.iter().find_map(|pod| {
        let other = second.pods.iter().find(|o| o.address == pod.address)?;
        Some(pod.last_seen_timestamp? - other.last_seen_timestamp?)
    });
    assert_eq!(lag, Some(10));

    let before = sim.seen_by(0);
    sim.tick();
    assert_ne!(sim.seen_by(0), before);
    let again = SimNetwork::start(small()).await.expect("sim");
    assert_eq!(
        again.pods().iter().map(|p| &p.pubkey).collect::<Vec<_>>(),
        sim.pods().iter().map(|p| &p.pubkey).collect::<Vec<_>>(),
        "the same random seed gives the same pubkeys"
    );
    again.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn a_seed_without_get_pods_with_stats_is_read_with_get_pods() {
    let sim = SimNetwork::start(small()).await.expect("sim");
    sim.set_seed_fault(0, SeedFault::MethodNotFound);
    let answer = client()
        .pods(&sim.seed_urls()[0], None)
        .await
        .expect("pods");

    assert_eq!(answer.method, PodsMethod::Legacy);
    assert_eq!(answer.pods.len(), sim.seen_by(0).len() + 3);
    assert!(answer.pods.iter().all(|pod| pod.is_public.is_none()
        && pod.rpc_port.is_none()
        && pod.storage_used.is_none()));
    assert!(
        answer
            .pods
            .iter()
            .all(|pod| pod.last_seen_timestamp.is_some())
    );
    assert_eq!(
        answer
            .pods
            .iter()
            .filter(|pod| pod.pubkey.is_none())
            .count(),
        1
    );
    sim.stop().await;
}

#[tokio::test]
async fn every_seed_fault_gives_its_error_kind_and_healing_restores_answers() {
    let sim = SimNetwork::start(small()).await.expect("sim");
    let client = client();
    let url = &sim.seed_urls()[1];
    for (fault, kind) in [
        (SeedFault::Slow(Duration::from_secs(2)), "timeout"),
        (SeedFault::Garbage, "not_json"),
        (SeedFault::WrongShape, "shape"),
        (SeedFault::HttpStatus(503), "http_status"),
        (SeedFault::RpcError, "rpc"),
        (SeedFault::Down, "connect"),
    ] {
        sim.set_seed_fault(1, fault.clone());
        let err = client.pods(url, None).await.expect_err("a fault");
        assert_eq!(err.kind(), kind, "{fault:?}: {err}");
        sim.set_seed_fault(1, SeedFault::None);
        let healed = client.pods(url, None).await;
        assert!(healed.is_ok(), "after {fault:?}: {healed:?}");
    }
    sim.set_seed_fault(1, SeedFault::RpcError);
    let err = client.pods(url, None).await.expect_err("rpc");
    assert!(
        matches!(err, PrpcError::Rpc { code: -32603, .. }),
        "{err:?}"
    );
    sim.set_seed_fault(1, SeedFault::HttpStatus(502));
    let err = client.pods(url, None).await.expect_err("status");
    assert!(matches!(err, PrpcError::HttpStatus(502)), "{err:?}");
    assert!(
        client.pods(&sim.seed_urls()[0], None).await.is_ok(),
        "the other seed is untouched"
    );
    sim.stop().await;
}

#[tokio::test]
async fn an_answer_over_the_cap_is_refused_as_too_large() {
    let sim = SimNetwork::start(small()).await.expect("sim");
    let err = client()
        .with_max_answer_bytes(100)
        .pods(&sim.seed_urls()[0], None)
        .await
        .expect_err("too large");
    assert!(matches!(err, PrpcError::TooLarge(100)), "{err:?}");
    sim.stop().await;
}

#[tokio::test]
async fn nodes_answer_versions_unknown_methods_and_malformed_requests_like_real_ones() {
    let sim = SimNetwork::start(small()).await.expect("sim");
    let seed = &sim.seed_urls()[0];
    assert!(
        client()
            .version(seed)
            .await
            .expect("version")
            .starts_with("0.8.0")
    );

    let http = pnode_api::net::http::Outbound::web_roots()
        .expect("TLS")
        .client()
        .no_proxy()
        .build()
        .expect("client");
    let rpc = format!("{seed}/rpc");
    let unknown: serde_json::Value = http
        .post(&rpc)
        .body(r#"{"jsonrpc":"2.0","method":"get-everything","id":7}"#)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(unknown["error"]["code"], -32601);
    assert_eq!(unknown["id"], 7);

    let malformed = http
        .post(&rpc)
        .body("{not json")
        .send()
        .await
        .expect("send");
    assert!(malformed.status().is_client_error());
    assert!(
        serde_json::from_str::<serde_json::Value>(&malformed.text().await.expect("text")).is_err()
    );
    sim.stop().await;
}
