//! The trust boundary: gossip, seeds' answers and clients are untrusted. A gossiped address is
//! called only when it is an IP literal inside `PNODE_STATS_TARGETS`; a seed URL's password is
//! sent as Basic auth and shown nowhere; a seed's error text is bounded; a CSV cell never runs
//! as a formula; `HEAD /api/events` holds no stream; request heads and connections are bounded;
//! clients are rate-limited per address.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use pnode_api::net::targets::AllowedTargets;
use pnode_tools::sim::{SeedFault, SimConfig, SimNetwork};
use reqwest::StatusCode;
use serde_json::json;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

use crate::{
    binary::Server,
    collecting::fast_settings,
    helpers::{Backend, TestApp, TestDb, spawn_app_with, wait_until},
    metrics::{scrape, value},
    tls::backend_of,
};

on_both_backends!(
    gossiped_addresses_are_data_and_only_allowed_ip_literals_are_called,
    the_default_calls_no_private_address,
    a_seed_url_s_password_is_sent_as_basic_auth_and_shown_nowhere,
    a_seed_s_megabyte_of_error_is_stored_and_served_as_a_kilobyte,
    text_a_spreadsheet_would_run_is_exported_as_text,
);

/// The app collecting `sim` every half second, with `configure` applied after.
async fn collecting(
    backend: &Backend,
    sim: &SimNetwork,
    configure: impl FnOnce(&mut pnode_api::app::config::Settings),
) -> TestApp {
    let seeds = sim.seed_urls().join(",");
    spawn_app_with(backend, move |settings| {
        settings.seeds = seeds.parse().expect("seeds");
        settings.collector = fast_settings();
        configure(settings);
    })
    .await
}

/// A listener on `ip` that counts the connections it accepts, and closes them.
async fn trap(ip: &str) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind((ip, 0)).await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            drop(socket);
        }
    });
    (port, accepted)
}

/// A valid pubkey (base58 of 32 bytes) per index.
fn pubkey(index: u8) -> String {
    bs58_of(&[index; 32])
}

fn bs58_of(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    let mut digits: Vec<u8> = Vec::new();
    for &byte in bytes {
        let mut carry = u32::from(byte);
        for digit in &mut digits {
            carry += u32::from(*digit) << 8;
            *digit = (carry % 58) as u8;
            carry /= 58;
        }
        while carry > 0 {
            digits.push((carry % 58) as u8);
            carry /= 58;
        }
    }
    let zeros = bytes.iter().take_while(|&&b| b == 0).count();
    std::iter::repeat_n('1', zeros)
        .chain(digits.iter().rev().map(|&d| ALPHABET[d as usize] as char))
        .collect()
}

fn pod(index: u8, address: &str, rpc_port: u16) -> serde_json::Value {
    json!({
        "address": address, "pubkey": pubkey(index), "version": "0.8.0",
        "last_seen_timestamp": 1_765_057_753, "is_public": true, "rpc_port": rpc_port,
    })
}

async fn gossiped_addresses_are_data_and_only_allowed_ip_literals_are_called(backend: Backend) {
    let sim = SimNetwork::start(SimConfig {
        public_every: 0,
        ..SimConfig::default()
    })
    .await
    .expect("sim");
    let (trap_port, trapped) = trap("127.0.0.1").await;
    let (other_port, other) = trap("127.0.0.2").await;
    let (allowed_port, allowed) = trap("127.0.0.1").await;
    let hostile = [
        format!("u:p@127.0.0.1:{trap_port}"),
        format!("127.0.0.1:{trap_port}/admin?x="),
        format!("localhost:{trap_port}"),
        format!("[::ffff:127.0.0.1]:{trap_port}"),
    ];
    let mut pods: Vec<_> = hostile
        .iter()
        .enumerate()
        .map(|(k, address)| pod(k as u8 + 1, address, trap_port))
        .collect();
    pods.push(pod(10, "127.0.0.2:9001", other_port));
    pods.push(pod(11, "127.0.0.1:9001", allowed_port));
    // Two pubkeys at one address: one call, credited to both.
    pods.push(pod(12, "127.0.0.1:9002", allowed_port));
    sim.set_extra_pods(pods);
    let app = collecting(&backend, &sim, |settings| {
        settings.collector.stats_targets = "127.0.0.1/32".parse().expect("a CIDR");
    })
    .await;
    app.wait_for_a_cycle().await;
    wait_until("the allowed address is called", || async {
        allowed.load(Ordering::SeqCst) >= 1
    })
    .await;

    assert_eq!(
        trapped.load(Ordering::SeqCst),
        0,
        "a refused address was called"
    );
    assert_eq!(
        other.load(Ordering::SeqCst),
        0,
        "an address outside the list was called"
    );
    let metrics = scrape(&app).await;
    let refused = |reason| {
        value(
            &metrics,
            "pnode_collector_stats_targets_refused_total",
            &[("reason", reason)],
        )
    };
    // A user info, a path, a host name; an IPv4-mapped IPv6 address is a literal, not allowed.
    assert!(
        refused("not_ip_literal") >= 3.0,
        "{}",
        refused("not_ip_literal")
    );
    assert!(refused("not_allowed") >= 2.0, "{}", refused("not_allowed"));
    // Shown as reported, all the same.
    let view = app.get_json("/api/pnodes").await;
    let addresses: Vec<&str> = view["globalPnodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter_map(|node| node["latestAddress"].as_str())
        .collect();
    for address in &hostile {
        assert!(addresses.contains(&address.as_str()), "{address} is shown");
    }
    // One call per address: the two nodes gossiped at the allowed one share a call. (The trap
    // answers nothing, so both fail and wait their backoff: no later cycle calls again.)
    assert_eq!(
        allowed.load(Ordering::SeqCst),
        1,
        "calls to the shared address"
    );
    sim.stop().await;
}

async fn the_default_calls_no_private_address(backend: Backend) {
    let sim = SimNetwork::start(SimConfig::default()).await.expect("sim");
    let app = collecting(&backend, &sim, |settings| {
        settings.collector.stats_targets = AllowedTargets::public();
    })
    .await;
    app.wait_for_a_cycle().await;
    let metrics = scrape(&app).await;
    let attempted = value(&metrics, "pnode_collector_stats_calls_total", &[]);
    assert_eq!(attempted, 0.0, "a loopback pod was asked for its stats");
    assert!(
        value(
            &metrics,
            "pnode_collector_stats_targets_refused_total",
            &[("reason", "not_allowed")]
        ) >= sim.pods().len() as f64
    );
    sim.stop().await;
}

/// A proxy on loopback in front of `backend` that keeps each request's head.
async fn recording_front(backend: std::net::SocketAddr) -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let heads = Arc::new(Mutex::new(Vec::new()));
    let kept = Arc::clone(&heads);
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let kept = Arc::clone(&kept);
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0_u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if client.read_exact(&mut byte).await.is_err() {
                        return;
                    }
                    head.push(byte[0]);
                }
                kept.lock()
                    .expect("heads")
                    .push(String::from_utf8_lossy(&head).into_owned());
                let Ok(mut upstream) = TcpStream::connect(backend).await else {
                    return;
                };
                if upstream.write_all(&head).await.is_ok() {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                }
            });
        }
    });
    (port, heads)
}

fn base64(text: &str) -> String {
    const TABLE: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = text.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0_u32, |n, (k, &b)| n | u32::from(b) << (16 - 8 * k));
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(TABLE[((n >> (18 - 6 * k)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

async fn a_seed_url_s_password_is_sent_as_basic_auth_and_shown_nowhere(backend: Backend) {
    const PASSWORD: &str = "s3cr3tPASS";
    let sim = SimNetwork::start(SimConfig::default()).await.expect("sim");
    let (seed_port, heads) = recording_front(backend_of(&sim.seed_urls()[0])).await;
    let (credits_port, credit_heads) = recording_front(backend_of(&sim.credits_url())).await;
    let seed = format!("main=http://bob:{PASSWORD}@127.0.0.1:{seed_port}");
    let credits = format!("http://carol:{PASSWORD}@127.0.0.1:{credits_port}/api/pods-credits");
    let db = TestDb::create(&backend).await;

    // One cycle from the command line: what it prints names the seed without its password.
    let once = std::process::Command::new(crate::binary::binary())
        .args(["collect", "--once"])
        .env("DATABASE_URL", &db.url)
        .env("PNODE_SEEDS", &seed)
        .env("PNODE_STATS_TARGETS", "127.0.0.0/8")
        .output()
        .expect("run collect --once");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&once.stdout),
        String::from_utf8_lossy(&once.stderr)
    );
    assert!(once.status.success(), "{printed}");
    assert!(
        printed.contains(&format!("http://127.0.0.1:{seed_port}")),
        "{printed}"
    );
    assert!(!printed.contains(PASSWORD), "{printed}");
    // Nor does `--help`, nor clap's own message about a bad value.
    let help = std::process::Command::new(crate::binary::binary())
        .args(["serve", "--help"])
        .env("PNODE_SEEDS", &seed)
        .output()
        .expect("help");
    assert!(!String::from_utf8_lossy(&help.stdout).contains(PASSWORD));
    let refused = std::process::Command::new(crate::binary::binary())
        .args([
            "--seed-urls",
            &format!("http://bob:{PASSWORD}@127.0.0.1:1/path"),
            "serve",
        ])
        .output()
        .expect("a refused value");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&refused.stdout),
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(
        !refused.status.success() && said.contains("must not have a path"),
        "{said}"
    );
    assert!(!said.contains(PASSWORD), "{said}");

    let mut server = Server::start_with(
        &db.url,
        &[
            ("PNODE_SEEDS", &seed),
            ("PNODE_CREDITS_URL", &credits),
            ("PNODE_CREDITS_INTERVAL", "300ms"),
            ("PNODE_INGEST_INTERVAL", "500ms"),
            (
                "RUST_LOG",
                "debug,sqlx=warn,actix_server=warn,hyper=warn,reqwest=warn",
            ),
        ],
    );
    let addr = server.wait_until_listening();
    let mut lines = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let seen = |lines: &[serde_json::Value], message: &str| {
        lines.iter().any(|line| line["message"] == message)
    };
    while !(seen(&lines, "collection cycle finished") && seen(&lines, "credits refreshed")) {
        assert!(
            std::time::Instant::now() < deadline,
            "no cycle and credits refresh"
        );
        lines.extend(server.lines_during(Duration::from_millis(200)));
    }

    let expected = format!("basic {}", base64(&format!("bob:{PASSWORD}"))).to_lowercase();
    let sent = heads.lock().expect("heads").join("").to_lowercase();
    assert!(
        sent.contains(&format!("authorization: {expected}")),
        "{sent}"
    );
    let credit_sent = credit_heads.lock().expect("heads").join("").to_lowercase();
    let carol = format!("basic {}", base64(&format!("carol:{PASSWORD}"))).to_lowercase();
    assert!(credit_sent.contains(&carol), "{credit_sent}");

    let base = format!("http://{addr}");
    let client = crate::helpers::http().build().expect("client");
    for path in [
        "/api/seeds",
        "/api/pnodes",
        "/api/pnodes?format=csv",
        "/api/network",
        "/api/ingestion-status",
        "/metrics",
        "/api/seeds/1/pnodes?limit=5",
    ] {
        let body = client
            .get(format!("{base}{path}"))
            .send()
            .await
            .expect("request")
            .text()
            .await
            .expect("body");
        assert!(
            !body.contains(PASSWORD),
            "{path} shows the password: {body}"
        );
        if path == "/api/seeds" {
            assert!(
                body.contains(&format!("http://127.0.0.1:{seed_port}")),
                "{body}"
            );
        }
    }
    let logged = lines
        .iter()
        .map(serde_json::Value::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(!logged.contains(PASSWORD), "a log line shows the password");
    drop(server);

    let conn = db.connect().await;
    for (table, column) in [
        ("pnode_gossip_observations", "seed_base_url"),
        ("pnode_seed_sightings", "seed_base_url"),
        ("ingestion_run_seed_stats", "seed_base_url"),
        ("pod_credits_snapshots", "source_url"),
    ] {
        let leaked = crate::collecting::scalar(
            &conn,
            &format!("SELECT COUNT(*) AS n FROM {table} WHERE {column} LIKE '%{PASSWORD}%'"),
        )
        .await;
        let stored =
            crate::collecting::scalar(&conn, &format!("SELECT COUNT(*) AS n FROM {table}")).await;
        assert_eq!(leaked, 0, "{table} stores the password");
        assert!(stored > 0, "{table} has rows");
    }
    sim.stop().await;
}

async fn a_seed_s_megabyte_of_error_is_stored_and_served_as_a_kilobyte(backend: Backend) {
    let sim = SimNetwork::start(SimConfig::default()).await.expect("sim");
    sim.set_seed_fault(0, SeedFault::LongRpcError(1_000_000));
    let app = collecting(&backend, &sim, |_| {}).await;
    app.wait_for_a_cycle().await;
    let response = app.get("/api/seeds").await;
    let body = response.text().await.expect("body");
    assert!(body.len() < 8 * 1024, "/api/seeds is {} bytes", body.len());
    let seeds: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let error = seeds["seeds"][0]["lastCycle"]["error"]
        .as_str()
        .expect("the seed's error");
    assert!(error.len() <= 1024, "{} bytes", error.len());
    assert!(error.ends_with("… [cut]"), "{error}");
    let conn = app.db.connect().await;
    let longest = crate::collecting::scalar(
        &conn,
        "SELECT CAST(COALESCE(MAX(LENGTH(error)), 0) AS BIGINT) AS n FROM ingestion_run_seed_stats",
    )
    .await;
    assert!((1..=1024).contains(&longest), "{longest} characters stored");
    sim.stop().await;
}

async fn text_a_spreadsheet_would_run_is_exported_as_text(backend: Backend) {
    let sim = SimNetwork::start(SimConfig::default()).await.expect("sim");
    let formula = r#"=HYPERLINK("http://attacker.example","click")"#;
    let mut hostile = pod(20, "127.0.0.1:9001", 6000);
    hostile["version"] = json!(formula);
    sim.set_extra_pods(vec![hostile]);
    let app = collecting(&backend, &sim, |_| {}).await;
    app.wait_for_a_cycle().await;
    let csv = app
        .get("/api/pnodes?format=csv")
        .await
        .text()
        .await
        .expect("CSV");
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let versions: Vec<String> = reader
        .deserialize::<std::collections::HashMap<String, String>>()
        .map(|row| row.expect("a row")["latestVersion"].clone())
        .collect();
    assert!(versions.contains(&format!("'{formula}")), "{versions:?}");
    assert!(!versions.iter().any(|v| v.starts_with('=')));
    // The JSON keeps it as reported.
    let view = app.get_json(&format!("/api/pnodes/{}", pubkey(20))).await;
    assert_eq!(view["latestVersion"], formula);
    sim.stop().await;
}

/// `HEAD /api/events` answers the headers and holds no stream: 120 of them with room for 50
/// streams leave every later stream served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_requests_for_the_event_stream_hold_no_slot() {
    let app = spawn_app_with(&Backend::Sqlite, |settings| {
        settings.events.max_clients = 50;
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..120 {
        let addr = app.address.trim_start_matches("http://").to_owned();
        let mut stream = TcpStream::connect(&addr).await.expect("connect");
        stream
            .write_all(b"HEAD /api/events HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("send");
        let mut head = vec![0_u8; 12];
        stream.read_exact(&mut head).await.expect("an answer");
        assert_eq!(&head, b"HTTP/1.1 200");
        // Kept open, as a client that asked and went quiet.
        held.push(stream);
    }
    let stream = app.get("/api/events").await;
    assert_eq!(stream.status(), StatusCode::OK, "a stream after 120 HEADs");
    let metrics = scrape(&app).await;
    assert_eq!(value(&metrics, "pnode_events_streams_open", &[]), 1.0);
    drop(held);
}

/// `If-None-Match: *` is a 304 for what exists (RFC 9110), a 404 for what does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn if_none_match_star_is_a_304_where_an_answer_exists() {
    let app = spawn_app_with(&Backend::Sqlite, |_| {}).await;
    for path in ["/api/pnodes", "/api/network", "/api/seeds"] {
        let response = app
            .client
            .get(app.url(path))
            .header("if-none-match", "*")
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED, "{path}");
    }
    let missing = app
        .client
        .get(app.url(&format!("/api/pnodes/{}", pubkey(1))))
        .header("if-none-match", "*")
        .send()
        .await
        .expect("request");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

/// A control character in `seedBaseUrl` is a bad value, not trimmed into an empty one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tab_is_not_an_empty_seed_base_url() {
    let app = spawn_app_with(&Backend::Sqlite, |_| {}).await;
    let response = app.get("/api/ingestion-status?seedBaseUrl=%09").await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = response.json().await.expect("JSON");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("seedBaseUrl"),
        "{body}"
    );
}

/// The limiter, as a client meets it: a budget per address, heavy answers weighing more, 429
/// with `Retry-After` and the draft's headers, `/api/health` and 304s free.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_over_its_rate_limit_gets_429_with_the_headers_to_wait() {
    let app = spawn_app_with(&Backend::Sqlite, |settings| {
        settings.http.rate_limit = "12/min".parse().expect("a rate");
    })
    .await;
    let first = app.get("/api/network").await;
    assert_eq!(first.status(), StatusCode::OK);
    let etag = first.headers()["etag"].clone();
    assert_eq!(first.headers()["ratelimit-limit"], "12");
    assert_eq!(first.headers()["ratelimit-remaining"], "11");
    // A full view weighs 10: one more leaves one.
    let full = app.get("/api/pnodes").await;
    assert_eq!(full.status(), StatusCode::OK);
    assert_eq!(full.headers()["ratelimit-remaining"], "1");
    // Revalidations answered 304 and health checks are free.
    for _ in 0..5 {
        let revalidated = app
            .client
            .get(app.url("/api/network"))
            .header("if-none-match", etag.clone())
            .send()
            .await
            .expect("request");
        assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(app.get("/api/health").await.status(), StatusCode::OK);
    }
    assert_eq!(app.get("/api/seeds").await.status(), StatusCode::OK);
    let refused = app.get("/api/seeds").await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let headers = refused.headers().clone();
    let retry: u64 = headers["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(headers["ratelimit-remaining"], "0");
    assert!(headers.contains_key("ratelimit-reset"));
    let body: serde_json::Value = refused.json().await.expect("JSON");
    assert_eq!(body["code"], "rate_limited");
    assert_eq!(
        app.get("/api/health").await.status(),
        StatusCode::OK,
        "health is never limited"
    );
    let metrics = scrape(&app).await;
    assert_eq!(value(&metrics, "pnode_http_rate_limited_total", &[]), 1.0);
}

/// Behind a trusted proxy every forwarded client has its own budget (IPv6 by /64); anyone
/// else's `X-Forwarded-For` is ignored; CORS lets scripts read the budget.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_clients_are_told_apart_only_behind_a_trusted_proxy() {
    let limited = |trusted: &'static str| {
        spawn_app_with(&Backend::Sqlite, move |settings| {
            settings.http.rate_limit = "2/min".parse().expect("a rate");
            settings.http.trusted_proxies = trusted.parse().expect("CIDRs");
        })
    };
    let ask = |app: &TestApp, client: &str| {
        app.client
            .get(app.url("/api/seeds"))
            .header("x-forwarded-for", client)
            .header("origin", "https://dash.example.org")
            .send()
    };
    let behind = limited("127.0.0.1/32").await;
    for client in ["203.0.113.1", "2001:db8:0:1::1", "2001:db8:0:1::2"] {
        let status = ask(&behind, client).await.expect("request").status();
        assert_eq!(status, StatusCode::OK, "{client}");
    }
    // 2001:db8:0:1::/64 has spent its two; 203.0.113.1 has one left; a new /64 has two.
    let same_64 = ask(&behind, "2001:db8:0:1::3").await.expect("request");
    assert_eq!(same_64.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        ask(&behind, "203.0.113.1").await.expect("request").status(),
        StatusCode::OK
    );
    let other = ask(&behind, "2001:db8:0:2::1").await.expect("request");
    assert_eq!(other.status(), StatusCode::OK);
    let exposed = other.headers()["access-control-expose-headers"]
        .to_str()
        .expect("ascii")
        .to_lowercase();
    for name in ["ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"] {
        assert!(exposed.contains(name), "{exposed}");
    }

    let direct = limited("").await;
    for client in ["203.0.113.1", "203.0.113.2"] {
        assert_eq!(
            ask(&direct, client).await.expect("request").status(),
            StatusCode::OK
        );
    }
    let spoofed = ask(&direct, "203.0.113.3").await.expect("request");
    assert_eq!(
        spoofed.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "an untrusted client's X-Forwarded-For is ignored"
    );
}

/// Half-sent request heads: one past 16 KiB is answered 431 and its connection closed; 3,000
/// connections each holding 15 KiB of an unfinished head keep the server's memory bounded and
/// `/api/health` answering; past `PNODE_HTTP_MAX_CONNECTIONS` a connection gets 503 at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_heads_and_too_many_connections_are_bounded() {
    let db = TestDb::create(&Backend::Sqlite).await;
    let mut server = Server::start_with(
        &db.url,
        &[
            ("PNODE_HTTP_REQUEST_TIMEOUT", "120s"),
            ("PNODE_HTTP_MAX_CONNECTIONS", "3100"),
        ],
    );
    let addr = server.wait_until_listening();
    let pid = server.pid();
    let rss = || {
        let pid = u32::try_from(pid.as_raw()).expect("a pid");
        pnode_api::observe::memory::proc_status_bytes(pid, "VmRSS").expect("procfs")
    };
    let before = rss();

    let mut big = TcpStream::connect(&addr).await.expect("connect");
    let mut head = b"GET /api/health HTTP/1.1\r\nX-Pad: ".to_vec();
    head.resize(100 * 1024, b'a');
    let _ = big.write_all(&head).await;
    let mut answer = Vec::new();
    let _ = big.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 431 "), "{answer}");
    assert!(
        answer.contains("request_header_fields_too_large"),
        "{answer}"
    );

    let mut held = Vec::new();
    let mut pad = b"GET /api/health HTTP/1.1\r\nX-Pad: ".to_vec();
    pad.resize(15 * 1024, b'b');
    for _ in 0..3_000 {
        let mut stream = TcpStream::connect(&addr).await.expect("connect");
        stream.write_all(&pad).await.expect("send");
        held.push(stream);
    }
    // The server holds them all.
    let open = || async {
        let text = crate::helpers::get(format!("http://{addr}/metrics"))
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text");
        text.lines()
            .find_map(|line| line.strip_prefix("http_connections_open "))
            .and_then(|n| n.trim().parse::<f64>().ok())
            .unwrap_or_default()
    };
    wait_until("the server holds the 3,000 connections", || async {
        open().await >= 3_000.0
    })
    .await;
    let health = tokio::time::timeout(
        Duration::from_secs(5),
        crate::helpers::get(format!("http://{addr}/api/health")),
    )
    .await
    .expect("health answers with 3,000 half-sent heads open")
    .expect("a response");
    assert_eq!(health.status(), StatusCode::OK);
    let during = rss();
    eprintln!("3,000 heads of 15 KiB held: RSS {before} -> {during}");
    assert!(during < 256 * 1024 * 1024, "RSS {during}");

    // The cap is 3,100 connections: of 150 more that hold heads too, about 100 fit, and the
    // rest are answered 503 at once.
    let mut more = Vec::new();
    for _ in 0..150 {
        let mut stream = TcpStream::connect(&addr).await.expect("connect");
        let _ = stream.write_all(&pad).await;
        more.push(stream);
    }
    let answers = futures_util::future::join_all(more.iter_mut().map(|stream| async move {
        let mut start = [0_u8; 12];
        let read = tokio::time::timeout(Duration::from_secs(2), stream.read_exact(&mut start));
        matches!(read.await, Ok(Ok(_))) && &start == b"HTTP/1.1 503"
    }))
    .await;
    let refused = answers.iter().filter(|refused| **refused).count();
    assert!(
        (40..=60).contains(&refused),
        "{refused} of 150 past the cap were refused"
    );
    drop(held);
}

/// A made-up `If-None-Match` buys nothing: a revalidation that is not a 304 pays its weight
/// before its answer is computed, however many are sent at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revalidations_sent_at_once_cannot_overdraw_the_budget() {
    let app = spawn_app_with(&Backend::Sqlite, |settings| {
        settings.http.rate_limit = "12/min".parse().expect("a rate");
    })
    .await;
    let ask = || {
        app.client
            .get(app.url("/api/pnodes"))
            .header("if-none-match", "\"made-up\"")
            .send()
    };
    let answers = futures_util::future::join_all((0..6).map(|_| ask())).await;
    let served = answers
        .iter()
        .filter(|answer| answer.as_ref().is_ok_and(|a| a.status() == StatusCode::OK))
        .count();
    let refused = answers
        .iter()
        .filter(|a| {
            a.as_ref()
                .is_ok_and(|a| a.status() == StatusCode::TOO_MANY_REQUESTS)
        })
        .count();
    // A full view weighs 10 of the 12: one fits.
    assert_eq!((served, refused), (1, 5));
}
