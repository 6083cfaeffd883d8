//! SIGTERM and SIGINT to the real binary: it stops accepting, lets the responses in flight finish
//! (full views of a large network among them), closes the pool and exits 0.

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
    sigterm_with_full_views_in_flight_loses_none,
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
    // The first response is on its way.
    let mut received = vec![0_u8; 12];
    tokio::time::timeout(Duration::from_secs(30), stream.read_exact(&mut received))
        .await
        .expect("the answer starts within 30 s")
        .expect("read the status line");
    assert_eq!(&received, b"HTTP/1.1 200");

    nix::sys::signal::kill(server.pid(), signal).expect("send the signal");
    server.wait_for_log("shutting down: finishing in-flight requests");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        server.still_running(),
        "the server quit with a response in flight"
    );

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

/// Full views of a 10,000-node network (about 9 MB each, more than loopback's socket buffers hold),
/// larger than the view cache so each streams from the database as it is sent, requested on four
/// connections (identity and gzip; two computing, two queued behind the full-view bound), none read
/// yet when the signal lands: every one arrives whole and parses to the whole network.
async fn sigterm_with_full_views_in_flight_loses_none(backend: Backend) {
    use pnode_tools::generate::{Spec, generate};

    const NODES: usize = 10_000;
    let db = TestDb::create(&backend).await;
    let pool = crate::collecting::migrated(&db.url).await;
    let spec = Spec {
        nodes: NODES as u32,
        observations_per_node: 2,
        samples_per_node: 2,
        seeds: 3,
        random_seed: 5,
    };
    generate(pool.conn(), spec, crate::fixtures::now())
        .await
        .expect("generate");
    pool.close().await.expect("close");
    let mut server = Server::start_with(
        &db.url,
        &[
            ("PNODE_VIEW_CACHE_MB", "1"),
            // All four views at once, so that each is being sent when the signal lands.
            ("PNODE_FULL_VIEW_CONCURRENCY", "4"),
            ("PNODE_FULL_VIEW_WAIT", "30s"),
        ],
    );
    let addr = server
        .wait_until_listening()
        .parse()
        .expect("a socket address");

    let mut streams = Vec::new();
    for i in 0..4 {
        let socket = TcpSocket::new_v4().expect("socket");
        socket
            .set_recv_buffer_size(4096)
            .expect("small receive buffer");
        let mut stream = socket.connect(addr).await.expect("connect");
        let encoding = if i % 2 == 0 { "identity" } else { "gzip" };
        let request = format!(
            "GET /api/pnodes HTTP/1.1\r\nHost: localhost\r\nAccept-Encoding: {encoding}\r\nConnection: close\r\n\r\n"
        );
        stream
            .write_all(request.as_bytes())
            .await
            .expect("send the request");
        streams.push((encoding, stream));
    }
    // Every view is being sent: each client has the start of its answer.
    let streams = futures_util::future::join_all(streams.into_iter().map(
        |(encoding, mut stream)| async move {
            let mut start = vec![0_u8; 12];
            tokio::time::timeout(Duration::from_secs(30), stream.read_exact(&mut start))
                .await
                .expect("the answer starts within 30 s")
                .expect("read the status line");
            assert_eq!(&start, b"HTTP/1.1 200", "{encoding}");
            (encoding, start, stream)
        },
    ))
    .await;

    nix::sys::signal::kill(server.pid(), Signal::SIGTERM).expect("send the signal");
    server.wait_for_log("shutting down: finishing in-flight requests");
    let readers = streams
        .into_iter()
        .map(|(encoding, mut received, mut stream)| async move {
            stream
                .read_to_end(&mut received)
                .await
                .expect("read the response");
            (encoding, received)
        });
    for (encoding, received) in futures_util::future::join_all(readers).await {
        let body = response_body(&received);
        let json = if encoding == "gzip" {
            let mut plain = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&body[..]), &mut plain)
                .expect("a whole gzip stream");
            plain
        } else {
            body
        };
        let view: serde_json::Value = serde_json::from_slice(&json).expect("a whole JSON body");
        assert_eq!(
            view["globalPnodes"].as_array().map(Vec::len),
            Some(NODES),
            "{encoding}"
        );
    }

    server.wait_for_log("shutdown complete");
    let status = server.wait_for_exit(Duration::from_secs(20));
    assert_eq!(status.code(), Some(0), "exit status after SIGTERM");
}

/// The head of the HTTP/1.1 response `bytes` start with, lower-cased, and where it ends; failing
/// unless it is whole and a 200.
fn ok_head(bytes: &[u8]) -> (String, usize) {
    let head_end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a whole response head")
        + 4;
    let head = String::from_utf8_lossy(&bytes[..head_end]).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    (head, head_end)
}

/// The body of the one HTTP/1.1 200 response in `bytes`, failing unless it is whole: all of its
/// `content-length`, or every chunk up to the last (empty) one.
fn response_body(bytes: &[u8]) -> Vec<u8> {
    let (head, head_end) = ok_head(bytes);
    let mut rest = &bytes[head_end..];
    if let Some(length) = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length: "))
    {
        let length: usize = length.trim().parse().expect("a length");
        assert_eq!(rest.len(), length, "the body was cut short");
        return rest.to_vec();
    }
    assert!(head.contains("transfer-encoding: chunked"), "{head}");
    let mut body = Vec::new();
    loop {
        let line_end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("a whole chunk size line");
        let size = usize::from_str_radix(String::from_utf8_lossy(&rest[..line_end]).trim(), 16)
            .expect("a chunk size");
        rest = &rest[line_end + 2..];
        if size == 0 {
            return body;
        }
        assert!(rest.len() >= size + 2, "a chunk was cut short");
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

/// Counts the HTTP/1.1 200 responses in `bytes`, failing if any of them is cut short.
fn complete_responses(mut bytes: &[u8]) -> usize {
    let mut count = 0;
    while !bytes.is_empty() {
        let (head, head_end) = ok_head(bytes);
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
    use pnode_tools::sim::{SeedFault, SimConfig, SimNetwork};

    let sim = SimNetwork::start(SimConfig::default()).await.expect("sim");
    // The slow seed keeps the first cycle busy for over a second (the pRPC timeout is 2.5 s).
    sim.set_seed_fault(0, SeedFault::Slow(Duration::from_millis(1500)));
    let db = TestDb::create(&backend).await;
    let seeds = sim.seed_urls().join(",");
    let mut server = Server::start_with(
        &db.url,
        &[("PNODE_SEEDS", &seeds), ("PNODE_INGEST_INTERVAL", "1h")],
    );
    let addr = server.wait_until_listening();
    // The first cycle has opened its run (and waits on the slow seed).
    let status = format!("http://{addr}/api/ingestion-status");
    crate::helpers::wait_until("the first cycle runs", || async {
        let status: serde_json::Value = match crate::helpers::get(&status).await {
            Ok(response) => response.json().await.unwrap_or_default(),
            Err(_) => serde_json::Value::Null,
        };
        status["isRunning"] == true
    })
    .await;

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
