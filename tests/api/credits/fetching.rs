//! Fetching alone: every way the source can fail comes back as its own kind of error.

use std::time::{Duration, Instant};

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
