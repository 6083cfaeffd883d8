//! Fetching alone: every way the source can fail comes back as its own kind of error.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering as AtomicOrdering},
    },
    time::{Duration, Instant},
};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

#[tokio::test]
async fn the_simulated_source_is_read_in_full() {
    let sim = SimNetwork::start(SimConfig::default()).await.expect("sim");
    let (credits, skipped) = fetch(&client(), &sim.credits_url(), &policy())
        .await
        .expect("fetch");
    let pods: Vec<String> = sim.pods().into_iter().map(|pod| pod.pubkey).collect();
    let fetched: Vec<String> = credits.into_iter().map(|c| c.pubkey).collect();
    assert_eq!((fetched, skipped), (pods, 0));
    sim.stop().await;
}

#[tokio::test]
async fn an_answer_over_the_cap_is_refused() {
    let sim = SimNetwork::start(SimConfig::default()).await.expect("sim");
    let tiny = CreditsPolicy {
        max_answer_bytes: 64,
        ..policy()
    };
    let err = fetch(&client(), &sim.credits_url(), &tiny)
        .await
        .expect_err("too large");
    assert_eq!(err.kind(), "too_large", "{err}");
    sim.stop().await;
}

#[tokio::test]
async fn an_http_error_status_is_reported_as_such() {
    let sim = SimNetwork::start(SimConfig::default()).await.expect("sim");
    // A seed's port answers 404 to anything but POST /rpc.
    let url = format!("{}/api/pods-credits", sim.seed_urls()[0]);
    let err = fetch(&client(), &url, &policy()).await.expect_err("404");
    assert!(matches!(err, CreditsError::HttpStatus(404)), "{err}");
    assert_eq!(err.kind(), "http_status");
    sim.stop().await;
}

#[tokio::test]
async fn a_closed_port_is_a_connect_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let url = format!("http://127.0.0.1:{port}/api/pods-credits");
    let err = fetch(&client(), &url, &policy())
        .await
        .expect_err("refused");
    assert_eq!(err.kind(), "connect", "{err}");
    assert!(err.to_string().contains("127.0.0.1"), "{err}");
}

#[tokio::test]
async fn a_silent_source_times_out() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!(
        "http://{}/api/pods-credits",
        listener.local_addr().expect("addr")
    );
    // Accepts and never answers.
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let quick = CreditsPolicy {
        timeout: Duration::from_millis(200),
        ..policy()
    };
    let started = Instant::now();
    let err = fetch(&client(), &url, &quick).await.expect_err("silent");
    assert_eq!(err.kind(), "timeout", "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));
    silent.abort();
}

/// A source on loopback that answers each request with the next of `answers` (status, body),
/// then closes; it counts the requests it got.
async fn scripted_source(answers: Vec<(u16, String)>) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!(
        "http://{}/api/pods-credits",
        listener.local_addr().expect("addr")
    );
    let served = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&served);
    tokio::spawn(async move {
        for (status, body) in answers {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let mut head = vec![0_u8; 4096];
            let _ = socket.read(&mut head).await;
            count.fetch_add(1, AtomicOrdering::SeqCst);
            let reply = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(reply.as_bytes()).await;
        }
    });
    (url, served)
}

on_both_backends!(a_transient_failure_is_tried_again_and_the_refresh_goes_through);

async fn a_transient_failure_is_tried_again_and_the_refresh_goes_through(backend: Backend) {
    let test = TestDb::open(&backend).await;
    let pubkey = "7T4zPNNDAT7rwkQ6Rf2QyMvLwowQ4KDSxKRXF9qEtYvR".to_owned();
    insert_nodes(test.db.conn(), std::slice::from_ref(&pubkey)).await;
    let good =
        format!(r#"{{"pods_credits":[{{"pod_id":"{pubkey}","credits":42}}],"status":"success"}}"#);
    let (url, served) = scripted_source(vec![
        (503, "{}".to_owned()),
        (429, "{}".to_owned()),
        (200, good),
    ])
    .await;
    let patient = CreditsPolicy {
        retries: 2,
        ..policy()
    };
    let report = refresh(test.db.conn(), &client(), "mainnet", &url, &patient, t0())
        .await
        .expect("the third attempt answers");
    assert_eq!(
        (report.received, served.load(AtomicOrdering::SeqCst)),
        (1, 3)
    );
    assert_eq!(node(test.db.conn(), &pubkey).await.latest_credits, Some(42));
}

/// What a refresh says when its fetch fails (it never reaches the database then).
async fn refresh_without_a_database(url: &str, policy: &CreditsPolicy) -> CreditsError {
    let test = TestDb::open(&Backend::Sqlite).await;
    refresh(test.db.conn(), &client(), "mainnet", url, policy, t0())
        .await
        .expect_err("the fetch fails")
}

#[tokio::test]
async fn an_answer_meant_as_given_is_not_tried_again() {
    let (url, served) = scripted_source(vec![(404, "{}".to_owned()), (404, "{}".to_owned())]).await;
    let patient = CreditsPolicy {
        retries: 2,
        ..policy()
    };
    let err = refresh_without_a_database(&url, &patient).await;
    assert_eq!(err.kind(), "http_status");
    assert!(!err.is_transient());
    assert_eq!(served.load(AtomicOrdering::SeqCst), 1);
}
