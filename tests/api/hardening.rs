//! What a misbehaving client can do, and cannot: every error it provokes is JSON `{error, code}`
//! (including those the HTTP layer answers by itself), its input is echoed bounded, text with
//! control bytes is refused naming the parameter, `HEAD` works like `GET`, every answer carries
//! `nosniff`, made-up methods and paths do not grow `/metrics` or memory, a client that stops
//! reading is dropped, and a flood of full views leaves pages and health fast (503 for the
//! surplus).

use std::time::Duration;

use reqwest::{Method, StatusCode, header};
use serde_json::Value;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
};

use crate::{
    binary::Server,
    helpers::{Backend, TestApp, TestDb, some_network, spawn_app, spawn_app_with, wait_until},
    metrics::{scrape, value},
};

on_both_backends!(
    control_bytes_in_any_text_parameter_are_400_naming_it,
    head_answers_like_get_without_a_body,
    a_flood_of_full_views_gets_503_beyond_the_bound_and_pages_still_answer,
);

/// An answer read off a raw connection.
struct Raw {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Raw {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|err| {
            panic!(
                "not JSON ({err}): {}\n{}",
                self.head,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

/// Sends `bytes` on a new connection and reads the one answer until the server closes.
async fn raw(app: &TestApp, bytes: &[u8]) -> Raw {
    let addr = app.address.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(bytes).await.expect("send");
    read_answer(&mut stream).await
}

async fn read_answer(stream: &mut TcpStream) -> Raw {
    let mut received = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut received))
        .await
        .expect("the server closes the connection")
        .expect("read");
    let split = received
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a whole head");
    let head = String::from_utf8_lossy(&received[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("a status");
    Raw {
        status,
        head,
        body: received[split + 4..].to_vec(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_layers_own_errors_answer_json() {
    let app = spawn_app_with(&Backend::Sqlite, |settings| {
        // actix-http times the head from a clock it updates every 500 ms: a timeout much shorter
        // than that can fire before a prompt head is read.
        settings.http.request_timeout = Duration::from_secs(2);
    })
    .await;

    // Not HTTP.
    let answer = raw(&app, b"\x01\x02 nonsense\r\n\r\n").await;
    assert_eq!(answer.status, 400, "{}", answer.head);
    assert_eq!(answer.json()["code"], "bad_request");

    // A request head larger than the server reads: a 100 KB query string.
    let long = format!(
        "GET /api/pnodes?q={} HTTP/1.1\r\nHost: x\r\n\r\n",
        "a".repeat(100_000)
    );
    let answer = raw(&app, long.as_bytes()).await;
    assert!(
        matches!(answer.status, 400 | 431),
        "{}: a head too large",
        answer.head
    );
    assert!(answer.json()["code"].is_string());

    // A head that never ends.
    let answer = raw(&app, b"GET /api/health HTTP/1.1\r\nHost: x\r\n").await;
    assert_eq!(answer.status, 408, "{}", answer.head);
    assert_eq!(answer.json()["code"], "request_timeout");

    for answer in [
        raw(&app, b"\x01\x02 nonsense\r\n\r\n").await,
        raw(&app, b"GET /api/health HTTP/1.1\r\nHost: x\r\n").await,
    ] {
        assert_eq!(answer.header("content-type"), Some("application/json"));
        assert_eq!(answer.header("x-content-type-options"), Some("nosniff"));
        let length: usize = answer
            .header("content-length")
            .and_then(|l| l.parse().ok())
            .expect("a length");
        assert_eq!(length, answer.body.len());
    }
    let metrics = scrape(&app).await;
    assert_eq!(
        value(&metrics, "http_protocol_errors_total", &[("status", "408")]),
        2.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_quoted_by_its_start_only() {
    let app = spawn_app(&Backend::Sqlite).await;
    let long = "x".repeat(10_000);
    for (method, path, status) in [
        (Method::GET, format!("/api/pnodes/{long}"), 404),
        (Method::GET, format!("/api/pnodes/{long}/history"), 404),
        (Method::GET, format!("/api/seeds/{long}/pnodes"), 404),
        (Method::GET, format!("/api/{long}"), 404),
        (Method::GET, format!("/api/pnodes?limit={long}"), 400),
        (Method::GET, format!("/api/pnodes?sort={long}"), 400),
        (
            Method::GET,
            format!("/api/network/history?from={long}"),
            400,
        ),
        (
            Method::GET,
            format!("/api/ingestion-status?seedBaseUrl={long}"),
            400,
        ),
        (
            Method::from_bytes(long.as_bytes()).expect("a token"),
            "/api/health".to_owned(),
            405,
        ),
    ] {
        let response = app
            .client
            .request(method, app.url(&path))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), status, "{}", &path[..40]);
        let body = response.text().await.expect("body");
        assert!(body.len() < 400, "{} bytes: {body}", body.len());
        let body: Value = serde_json::from_str(&body).expect("JSON");
        assert!(body["error"].as_str().is_some_and(|e| e.contains("xxx")));
    }
}

async fn control_bytes_in_any_text_parameter_are_400_naming_it(backend: Backend) {
    let app = spawn_app(&backend).await;
    some_network(&app, 5).await;
    for (path, parameter) in [
        ("/api/pnodes?q=%00", "q"),
        ("/api/pnodes?q=a%01b", "q"),
        ("/api/pnodes?seed=%00", "seed"),
        ("/api/pnodes?version=0.7%00", "version"),
        ("/api/pnodes?limit=5&q=%1b", "q"),
        ("/api/pnodes/abc%00", "pubkey"),
        ("/api/pnodes/abc%00/history", "pubkey"),
        ("/api/seeds/1/pnodes?q=%00", "q"),
        (
            "/api/ingestion-status?seedBaseUrl=http://a%00",
            "seedBaseUrl",
        ),
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 400, "{path}");
        let body: Value = response.json().await.expect("JSON");
        assert_eq!(body["code"], "invalid_parameter", "{path}: {body}");
        let message = body["error"].as_str().unwrap_or_default();
        assert!(
            message.contains(&format!("`{parameter}`")),
            "{path}: {message}"
        );
    }
}

async fn head_answers_like_get_without_a_body(backend: Backend) {
    let app = spawn_app(&backend).await;
    some_network(&app, 20).await;
    for path in [
        "/api/health",
        "/api/ready",
        "/api/pnodes",
        "/api/pnodes?limit=5",
        "/api/network",
        "/api/openapi.json",
    ] {
        let get = app.get(path).await;
        assert_eq!(get.status(), 200, "{path}");
        let etag = get.headers().get(header::ETAG).cloned();
        let body = get.bytes().await.expect("body");

        let head = app.client.head(app.url(path)).send().await.expect("HEAD");
        assert_eq!(head.status(), 200, "HEAD {path}");
        assert_eq!(head.headers().get(header::ETAG), etag.as_ref(), "{path}");
        if let Some(length) = head.headers().get(header::CONTENT_LENGTH) {
            assert_eq!(
                length.to_str().ok().and_then(|l| l.parse().ok()),
                Some(body.len()),
                "HEAD {path} announces the GET's length"
            );
        }
        assert!(head.bytes().await.expect("body").is_empty(), "HEAD {path}");
    }
    let allowed = app
        .client
        .post(app.url("/api/health"))
        .send()
        .await
        .expect("POST");
    assert_eq!(allowed.headers()[header::ALLOW], "GET, HEAD");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_says_nosniff() {
    let app = spawn_app(&Backend::Sqlite).await;
    let etag = app.get("/api/pnodes").await.headers()[header::ETAG].clone();
    let not_modified = app
        .client
        .get(app.url("/api/pnodes"))
        .header(header::IF_NONE_MATCH, etag)
        .send()
        .await
        .expect("request");
    assert_eq!(not_modified.status(), 304);
    let mut answers = vec![not_modified];
    for path in [
        "/api/health",
        "/api/pnodes?limit=0",
        "/api/nope",
        "/metrics",
        "/docs/",
    ] {
        answers.push(app.get(path).await);
    }
    answers.push(
        app.client
            .delete(app.url("/api/health"))
            .send()
            .await
            .expect("DELETE"),
    );
    for answer in answers {
        assert_eq!(
            answer.headers().get(header::X_CONTENT_TYPE_OPTIONS),
            Some(&header::HeaderValue::from_static("nosniff")),
            "{} {}",
            answer.url(),
            answer.status()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swagger_ui_does_not_call_the_online_validator() {
    let app = spawn_app(&Backend::Sqlite).await;
    let initializer = app.get("/docs/swagger-initializer.js").await;
    assert_eq!(initializer.status(), 200);
    let script = initializer.text().await.expect("text");
    assert!(script.contains("\"validatorUrl\": \"none\""), "{script}");
    assert!(script.contains("/api/openapi.json"), "{script}");
}

/// 1,000 requests with made-up methods and paths (after 100 alike and a scrape, so that their
/// label sets exist) leave `/metrics` the same size, give or take digits, and the server's RSS within
/// noise. (Before labels came from closed sets, each such request added a label set: 35,000 of
/// them grew `/metrics` from 109 KB to 168 MB.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn made_up_methods_and_paths_do_not_grow_metrics_or_memory() {
    let db = TestDb::create(&Backend::Sqlite).await;
    let mut server = Server::start(&db.url);
    let base = format!("http://{}", server.wait_until_listening());
    let client = crate::helpers::http().build().expect("client");
    let send = |n: usize| {
        let (client, base) = (client.clone(), base.clone());
        async move {
            let method = Method::from_bytes(format!("M{n}").as_bytes()).expect("a token");
            let (method, path) = if n.is_multiple_of(2) {
                (method, "/api/health".to_owned())
            } else {
                (Method::GET, format!("/made/up/{n}"))
            };
            let status = client
                .request(method, format!("{base}{path}"))
                .send()
                .await
                .expect("request")
                .status();
            assert!(status.is_client_error(), "{path}: {status}");
        }
    };
    let measure = || {
        let (client, base) = (client.clone(), base.clone());
        async move {
            let text = client
                .get(format!("{base}/metrics"))
                .send()
                .await
                .expect("scrape")
                .text()
                .await
                .expect("text");
            let rss: f64 = text
                .lines()
                .find_map(|line| line.strip_prefix("process_resident_memory_bytes "))
                .and_then(|v| v.trim().parse().ok())
                .expect("an RSS gauge");
            (text.len(), rss)
        }
    };
    for n in 0..100 {
        send(n).await;
    }
    // The scrape's own label set exists from the second scrape on.
    measure().await;
    let (size_before, rss_before) = measure().await;
    for n in 100..1_100 {
        send(n).await;
    }
    let (size_after, rss_after) = measure().await;

    assert!(
        size_after.abs_diff(size_before) < 512,
        "/metrics went from {size_before} to {size_after} bytes"
    );
    let grown_mib = (rss_after - rss_before) / 1_048_576.0;
    assert!(grown_mib < 8.0, "RSS grew by {grown_mib:.1} MiB");
}

/// A client that asks for the full view and reads nothing is dropped after the write timeout,
/// and counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_dropped_after_the_write_timeout() {
    let app = spawn_app_with(&Backend::Sqlite, |settings| {
        settings.http.write_timeout = Duration::from_secs(1);
    })
    .await;
    // A full view (about 9 MB) larger than the socket buffers can hold (4 MB at most here).
    some_network(&app, 10_000).await;
    assert_eq!(app.get("/api/pnodes?limit=1").await.status(), 200);

    let mut stream = unread_full_view(&app).await;
    wait_until("the write timeout drops the client", || async {
        value(&scrape(&app).await, "http_write_timeouts_total", &[]) == 1.0
    })
    .await;

    let mut received = Vec::new();
    let _reset_or_closed = stream.read_to_end(&mut received).await;
    let full = app.get("/api/pnodes").await.bytes().await.expect("body");
    assert!(
        received.len() < full.len(),
        "{} of {} bytes arrived: the connection should have been dropped",
        received.len(),
        full.len()
    );
    let metrics = scrape(&app).await;
    assert_eq!(value(&metrics, "http_write_timeouts_total", &[]), 1.0);
}

/// A connection, with a small receive buffer, that asked for the full view and reads none of it.
async fn unread_full_view(app: &TestApp) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("a small buffer");
    let addr = app
        .address
        .trim_start_matches("http://")
        .parse()
        .expect("an address");
    let mut stream = socket.connect(addr).await.expect("connect");
    stream
        .write_all(b"GET /api/pnodes HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("send");
    stream
}

/// With one full view allowed at a time, a second one waits its short while, then gets 503 with
/// `Retry-After`; pages and health answer meanwhile.
async fn a_flood_of_full_views_gets_503_beyond_the_bound_and_pages_still_answer(backend: Backend) {
    let app = spawn_app_with(&backend, |settings| {
        settings.http.view_cache_mb = 0;
        settings.http.full_view_concurrency = 1;
        settings.http.full_view_wait = Duration::from_millis(200);
        settings.http.write_timeout = Duration::from_secs(60);
    })
    .await;
    // A full view (about 9 MB) larger than the socket buffers can hold (4 MB at most here).
    some_network(&app, 10_000).await;

    // A full view streamed to a client that does not read holds the one permit.
    let mut holder = unread_full_view(&app).await;
    wait_until("the unread full view holds the permit", || async {
        value(&scrape(&app).await, "pnode_full_views_running", &[]) == 1.0
    })
    .await;

    let refused = app.get("/api/pnodes?sort=credits").await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(refused.headers().contains_key(header::RETRY_AFTER));
    let body: Value = refused.json().await.expect("JSON");
    assert_eq!(body["code"], "overloaded", "{body}");
    let refused_seed = app.get("/api/seeds/1/pnodes").await;
    assert_eq!(refused_seed.status(), StatusCode::SERVICE_UNAVAILABLE);

    assert_eq!(app.get("/api/pnodes?limit=50").await.status(), 200);
    assert_eq!(app.get("/api/health").await.status(), 200);
    assert_eq!(app.get("/api/network").await.status(), 200);

    // Once the holder reads its view, the next full view gets through.
    let mut sink = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(30), async {
        let mut buf = vec![0; 64 * 1024];
        loop {
            let n = holder.read(&mut buf).await.expect("read");
            sink.extend_from_slice(&buf[..n]);
            // The streamed view is chunked: its last chunk is empty.
            if n == 0 || sink.ends_with(b"\r\n0\r\n\r\n") {
                break;
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the held view arrives");
    let full = app.get_json("/api/pnodes?sort=credits").await;
    assert_eq!(full["globalPnodes"].as_array().map(Vec::len), Some(10_000));
    let metrics = scrape(&app).await;
    assert_eq!(value(&metrics, "pnode_full_views_refused_total", &[]), 2.0);
}
