//! SIGTERM and SIGINT to the real binary: it stops accepting, lets the response in flight finish,
//! closes the pool and exits 0.

use std::time::Duration;

use nix::sys::signal::Signal;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpSocket,
};

use crate::{
    binary::Server,
    helpers::{Backend, TestDb},
};

on_both_backends!(
    sigterm_during_a_collection_cycle_lets_it_finish_its_writes,
    sigterm_lets_the_response_in_flight_finish_and_exits_0,
    sigint_lets_the_response_in_flight_finish_and_exits_0
);

async fn sigterm_lets_the_response_in_flight_finish_and_exits_0(backend: Backend) {
    stops_gracefully_on(Signal::SIGTERM, &backend).await;
}

async fn sigint_lets_the_response_in_flight_finish_and_exits_0(backend: Backend) {
    stops_gracefully_on(Signal::SIGINT, &backend).await;
}

async fn stops_gracefully_on(signal: Signal, backend: &Backend) {
    let db = TestDb::create(backend).await;
    let mut server = Server::start(&db.url);
    let addr = server
        .wait_until_listening()
        .parse()
        .expect("a socket address");

    // Responses larger than every socket buffer, to a client that does not read yet: the server is
    // still writing when the signal lands. (A request whose head has not fully arrived is not in
    // flight: actix closes such connections at once on shutdown.)
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .set_recv_buffer_size(4096)
        .expect("small receive buffer");
    let mut stream = socket.connect(addr).await.expect("connect");
    let request = b"GET /docs/swagger-ui-bundle.js HTTP/1.1\r\nHost: localhost\r\n\r\n";
    stream
        .write_all(&request.repeat(4))
        .await
        .expect("send the requests");
    tokio::time::sleep(Duration::from_millis(500)).await;

    nix::sys::signal::kill(server.pid(), signal).expect("send the signal");
    server.wait_for_log("shutting down: finishing in-flight requests");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        server.still_running(),
        "the server quit with a response in flight"
    );

    let mut received = Vec::new();
    stream
        .read_to_end(&mut received)
        .await
        .expect("read the responses");
    let complete = complete_responses(&received);
    assert!(complete >= 1, "no response arrived whole");

    server.wait_for_log("shutdown complete");
    let status = server.wait_for_exit(Duration::from_secs(20));
    assert_eq!(status.code(), Some(0), "exit status after {signal}");
}

/// Counts the HTTP/1.1 200 responses in `bytes`, failing if any of them is cut short.
fn complete_responses(mut bytes: &[u8]) -> usize {
    let mut count = 0;
    while !bytes.is_empty() {
        let head_end = bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a whole response head")
            + 4;
        let head = String::from_utf8_lossy(&bytes[..head_end]).to_ascii_lowercase();
        assert!(head.starts_with("http/1.1 200"), "{head}");
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length: "))
            .and_then(|value| value.trim().parse().ok())
            .expect("a content-length");
        assert!(bytes.len() >= head_end + length, "a response was cut short");
        bytes = &bytes[head_end + length..];
        count += 1;
    }
    count
}

async fn sigterm_during_a_collection_cycle_lets_it_finish_its_writes(backend: Backend) {
    use pnode_api::tools::sim::{SeedFault, SimConfig, SimNetwork};

    let sim = SimNetwork::start(SimConfig::default()).await.expect("sim");
    // The slow seed keeps the first cycle busy for over a second (the pRPC timeout is 2.5 s).
    sim.set_seed_fault(0, SeedFault::Slow(Duration::from_millis(1500)));
    let db = TestDb::create(&backend).await;
    let seeds = sim.seed_urls().join(",");
    let mut server = Server::start_with(
        &db.url,
        &[("PNODE_SEEDS", &seeds), ("PNODE_INGEST_INTERVAL", "1h")],
    );
    server.wait_until_listening();
    tokio::time::sleep(Duration::from_millis(500)).await;

    nix::sys::signal::kill(server.pid(), Signal::SIGTERM).expect("send the signal");
    server.wait_for_log("collection cycle finished");
    server.wait_for_log("shutdown complete");
    assert_eq!(
        server.wait_for_exit(Duration::from_secs(20)).code(),
        Some(0)
    );

    let conn = db.connect().await;
    let finished = crate::collecting::scalar(
        &conn,
        "SELECT COUNT(*) AS n FROM ingestion_runs WHERE finished_at IS NOT NULL",
    )
    .await;
    let unfinished = crate::collecting::scalar(
        &conn,
        "SELECT COUNT(*) AS n FROM ingestion_runs WHERE finished_at IS NULL",
    )
    .await;
    assert_eq!(
        (finished, unfinished),
        (1, 0),
        "the cycle in flight was finished, not cut"
    );
    let nodes = crate::collecting::scalar(&conn, "SELECT COUNT(*) AS n FROM pnodes").await;
    assert_eq!(
        nodes,
        sim.pods().len() as i64,
        "the slow seed's answer was recorded too"
    );
}
