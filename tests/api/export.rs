//! CSV answers, read back with a real CSV reader: the same rows as the JSON, in the same order,
//! for the same filters and pages; negotiated by `format` or `Accept`; a node's history; and
//! 20,000 nodes exported by the real binary with its peak memory barely moving.

use pnode_tools::{
    generate::{Spec, generate},
    sim::SimConfig,
};
use reqwest::header::{ACCEPT, CONTENT_TYPE, ETAG, IF_NONE_MATCH, VARY};
use serde_json::Value;

use crate::{
    binary::Server,
    collecting::{Rig, migrated},
    fixtures::{insert, node, now},
    helpers::{Backend, TestApp, TestDb, spawn_app_on},
};

on_both_backends!(
    csv_rows_read_back_equal_the_json_rows_for_every_question,
    a_nodes_history_as_csv_is_its_stats_buckets,
    twenty_thousand_nodes_are_exported_with_flat_memory,
);

/// The documented columns of `/api/pnodes` as CSV (README), and where each is in the JSON.
const PNODE_COLUMNS: [(&str, &str); 36] = [
    ("id", "/id"),
    ("pubkey", "/pubkey"),
    ("reachable", "/reachable"),
    ("failureCount", "/failureCount"),
    ("lastStatsAttemptAt", "/lastStatsAttemptAt"),
    ("lastStatsSuccessAt", "/lastStatsSuccessAt"),
    ("latestAddress", "/latestAddress"),
    ("latestVersion", "/latestVersion"),
    ("gossipLastSeen", "/gossipLastSeen"),
    ("seedBaseUrlsSeen", "/seedBaseUrlsSeen"),
    ("seedsSeenCount", "/seedsSeenCount"),
    ("statsTimestamp", "/latestStats/timestamp"),
    ("cpuPercent", "/latestStats/cpuPercent"),
    ("ramUsedBytes", "/latestStats/ramUsedBytes"),
    ("ramTotalBytes", "/latestStats/ramTotalBytes"),
    ("uptimeSeconds", "/latestStats/uptimeSeconds"),
    ("packetsInPerSec", "/latestStats/packetsInPerSec"),
    ("packetsOutPerSec", "/latestStats/packetsOutPerSec"),
    ("totalBytes", "/latestStats/totalBytes"),
    ("activeStreams", "/latestStats/activeStreams"),
    ("bytesPerSecond", "/latestStats/bytesPerSecond"),
    ("latestCredits", "/latestCredits"),
    ("creditsUpdatedAt", "/creditsUpdatedAt"),
    ("creditDelta24h", "/creditDelta24h"),
    ("isPublic", "/isPublic"),
    ("storageCommitted", "/storageCommitted"),
    ("storageUsed", "/storageUsed"),
    ("storageUsagePercent", "/storageUsagePercent"),
    ("score", "/score"),
    ("scoreReachable", "/scoreParts/reachable"),
    ("scoreStatsSuccess24h", "/scoreParts/statsSuccess24h"),
    ("scoreVersionCurrency", "/scoreParts/versionCurrency"),
    ("scoreUptime", "/scoreParts/uptime"),
    ("scoreSeedVisibility", "/scoreParts/seedVisibility"),
    ("scoredAt", "/scoreParts/scoredAt"),
    ("network", "/network"),
];

/// A CSV body read by the `csv` crate: its header and rows.
fn read(body: &str) -> (Vec<String>, Vec<Vec<String>>) {
    assert!(body.ends_with("\r\n"), "CRLF line ends");
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(body.as_bytes());
    let header = reader
        .headers()
        .expect("a header row")
        .iter()
        .map(str::to_owned)
        .collect();
    let rows = reader
        .records()
        .map(|record| {
            record
                .expect("a well-formed row")
                .iter()
                .map(str::to_owned)
                .collect()
        })
        .collect();
    (header, rows)
}

/// Panics unless the CSV field `field` says what the JSON `value` says.
fn same(field: &str, value: &Value, what: &str) {
    match value {
        Value::Null => assert_eq!(field, "", "{what}: null"),
        Value::Bool(b) => assert_eq!(field, b.to_string(), "{what}"),
        Value::Number(n) => {
            let read: f64 = field
                .parse()
                .unwrap_or_else(|_| panic!("{what}: {field:?} is not a number"));
            let json = n.as_f64().expect("a number");
            // serde_json's default float parser may be one unit in the last place off (it
            // trades exactness for speed); Rust's `parse` is exact. Integers compare exactly.
            let ulp = f64::EPSILON * json.abs();
            assert!((read - json).abs() <= ulp, "{what}: {read} vs {json}");
            if n.is_i64() {
                assert_eq!(field, n.to_string(), "{what}");
            }
        }
        Value::String(text) => assert_eq!(field, text, "{what}"),
        Value::Array(items) => {
            let texts: Vec<&str> = items.iter().map(|i| i.as_str().expect("text")).collect();
            let read: Vec<&str> = if field.is_empty() {
                Vec::new()
            } else {
                field.split(' ').collect()
            };
            assert_eq!(read, texts, "{what}");
        }
        Value::Object(_) => panic!("{what}: an object has no column"),
    }
}

/// Panics unless the CSV rows are the JSON `nodes`, in order, every column.
fn rows_equal(csv_body: &str, nodes: &[Value], question: &str) {
    let (header, rows) = read(csv_body);
    let expected: Vec<&str> = PNODE_COLUMNS.iter().map(|(name, _)| *name).collect();
    assert_eq!(header, expected, "{question}: the header row");
    assert_eq!(rows.len(), nodes.len(), "{question}: rows");
    for (row, node) in rows.iter().zip(nodes) {
        assert_eq!(row.len(), PNODE_COLUMNS.len());
        for (field, (name, pointer)) in row.iter().zip(PNODE_COLUMNS) {
            let value = node.pointer(pointer).unwrap_or(&Value::Null);
            same(
                field,
                value,
                &format!("{question}: {name} of {}", node["pubkey"]),
            );
        }
    }
}

async fn text(
    app: &TestApp,
    path: &str,
    accept: Option<&str>,
) -> (reqwest::header::HeaderMap, String) {
    let mut request = crate::helpers::http()
        .build()
        .expect("client")
        .get(app.url(path));
    if let Some(accept) = accept {
        request = request.header(ACCEPT, accept);
    }
    let response = request.send().await.expect("request");
    assert_eq!(response.status(), 200, "{path}");
    let headers = response.headers().clone();
    (headers, response.text().await.expect("body"))
}

async fn collected_twice(backend: &Backend) -> (Rig, TestApp) {
    let mut rig = Rig::start(backend, SimConfig::default()).await;
    rig.cycle().await;
    rig.let_a_minute_pass().await;
    rig.cycle().await;
    // A pubkey that needs quoting in CSV, and a node with nothing but its row.
    insert(&rig.conn, node("quo\"ted,key", now())).await;
    let app = spawn_app_on(&rig.db, |_| {}).await;
    (rig, app)
}

async fn csv_rows_read_back_equal_the_json_rows_for_every_question(backend: Backend) {
    let (_rig, app) = collected_twice(&backend).await;
    for question in [
        "",
        "reachable=true&sort=score&order=desc",
        "sort=uptime&order=desc&limit=7&offset=3",
        "q=quo&limit=5",
        "public=false&sort=version",
    ] {
        let json = app.get_json(&format!("/api/pnodes?{question}")).await;
        let nodes = json
            .get("globalPnodes")
            .or_else(|| json.get("pnodes"))
            .and_then(Value::as_array)
            .expect("nodes");
        assert!(!nodes.is_empty(), "{question} selects nodes");
        let (headers, body) = text(&app, &format!("/api/pnodes?{question}&format=csv"), None).await;
        assert!(
            headers[CONTENT_TYPE]
                .to_str()
                .is_ok_and(|t| t.starts_with("text/csv")),
            "{headers:?}"
        );
        rows_equal(&body, nodes, question);
        // The same by `Accept`.
        let (_, by_accept) = text(&app, &format!("/api/pnodes?{question}"), Some("text/csv")).await;
        assert_eq!(by_accept, body, "{question}: by Accept");
    }

    // JSON and CSV are told apart by caches and validators.
    let (json_headers, _) = text(&app, "/api/pnodes", Some("application/json")).await;
    let (csv_headers, _) = text(&app, "/api/pnodes?format=csv", None).await;
    for headers in [&json_headers, &csv_headers] {
        let vary: Vec<&str> = headers
            .get_all(VARY)
            .iter()
            .flat_map(|v| v.to_str().unwrap_or_default().split(','))
            .map(str::trim)
            .collect();
        assert!(vary.contains(&"Accept"), "{vary:?}");
    }
    assert_ne!(json_headers[ETAG], csv_headers[ETAG]);
    let revalidated = crate::helpers::http()
        .build()
        .expect("client")
        .get(app.url("/api/pnodes?format=csv"))
        .header(IF_NONE_MATCH, csv_headers[ETAG].clone())
        .send()
        .await
        .expect("revalidate");
    assert_eq!(revalidated.status(), 304);
    let crossed = crate::helpers::http()
        .build()
        .expect("client")
        .get(app.url("/api/pnodes"))
        .header(IF_NONE_MATCH, csv_headers[ETAG].clone())
        .send()
        .await
        .expect("JSON with the CSV's tag");
    assert_eq!(crossed.status(), 200);

    let refused = app.get("/api/pnodes?format=xml").await;
    assert_eq!(refused.status(), 400);
    let body: Value = refused.json().await.expect("json");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("`format`")),
        "{body}"
    );
}

async fn a_nodes_history_as_csv_is_its_stats_buckets(backend: Backend) {
    let (rig, app) = collected_twice(&backend).await;
    let pubkey = rig
        .sim
        .pods()
        .iter()
        .find(|pod| pod.public)
        .expect("a public pod")
        .pubkey
        .clone();
    // A fixed window: both answers cover the same buckets.
    let to = chrono::Utc::now() + chrono::Duration::minutes(5);
    let from = to - chrono::Duration::hours(2);
    let path = format!(
        "/api/pnodes/{pubkey}/history?points=10&from={}&to={}",
        from.format("%Y-%m-%dT%H:%M:%SZ"),
        to.format("%Y-%m-%dT%H:%M:%SZ")
    );
    let json = app.get_json(&path).await;
    let buckets = json["stats"].as_array().expect("stats");
    assert!(!buckets.is_empty(), "{json}");
    let (headers, body) = text(&app, &format!("{path}&format=csv"), None).await;
    assert!(
        headers[CONTENT_TYPE]
            .to_str()
            .is_ok_and(|t| t.starts_with("text/csv")),
        "{headers:?}"
    );
    let (header, rows) = read(&body);
    let names: Vec<&str> = buckets[0]
        .as_object()
        .expect("a bucket")
        .keys()
        .map(String::as_str)
        .collect();
    let mut sorted_header = header.clone();
    sorted_header.sort();
    let mut sorted_names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    sorted_names.sort();
    assert_eq!(sorted_header, sorted_names, "every field of a bucket, once");
    assert_eq!(rows.len(), buckets.len());
    for (row, bucket) in rows.iter().zip(buckets) {
        for (field, name) in row.iter().zip(&header) {
            same(field, &bucket[name.as_str()], &format!("history {name}"));
        }
    }
    let missing = app.get("/api/pnodes/nobody/history?format=csv").await;
    assert_eq!(missing.status(), 404);
}

/// Peak RSS (`VmHWM`) of a process, in bytes.
fn peak_rss(pid: nix::unistd::Pid) -> u64 {
    let pid = u32::try_from(pid.as_raw()).expect("a pid");
    pnode_api::observe::memory::proc_status_bytes(pid, "VmHWM").expect("procfs")
}

async fn twenty_thousand_nodes_are_exported_with_flat_memory(backend: Backend) {
    const NODES: u32 = 20_000;
    let db = TestDb::create(&backend).await;
    let pool = migrated(&db.url).await;
    let spec = Spec {
        nodes: NODES,
        observations_per_node: 1,
        samples_per_node: 1,
        seeds: 3,
        random_seed: 5,
    };
    generate(pool.conn(), spec, now()).await.expect("generate");
    pool.close().await.expect("close");
    // One arena and no thread caches, memory given back at once: the peak RSS then follows
    // what is live, whichever thread served what.
    let mut server = Server::start_with(
        &db.url,
        &[
            ("PNODE_VIEW_CACHE_MB", "0"),
            (
                "_RJEM_MALLOC_CONF",
                "narenas:1,tcache:false,dirty_decay_ms:0,muzzy_decay_ms:0",
            ),
        ],
    );
    let addr = server.wait_until_listening();
    let get = |query: &'static str| {
        let url = format!("http://{addr}/api/pnodes?{query}");
        async move {
            let response = crate::helpers::get(url).await.expect("request");
            assert_eq!(response.status(), 200);
            response.text().await.expect("body")
        }
    };
    // Warm up with an export that reads every node's row but selects a fifth of them: the same
    // connections, statements, pages and allocator pools as the whole export, a fifth the rows.
    for _ in 0..2 {
        get("reachable=true&format=csv").await;
    }
    let before = peak_rss(server.pid());
    let body = get("format=csv").await;
    let after = peak_rss(server.pid());

    let (_, rows) = read(&body);
    assert_eq!(rows.len(), NODES as usize);
    let grown = after.saturating_sub(before);
    eprintln!(
        "export of {NODES} nodes: {} bytes of CSV; peak RSS {before} -> {after} (+{grown})",
        body.len()
    );
    // Holding the export would take at least its own size (its nodes as structs, several times
    // it); streaming holds two chunks of 500. Measured: +0.3 to +1.1 MB on either backend for
    // 7.8 MB of CSV (more while other tests load the machine).
    assert!(
        grown < body.len() as u64 / 2,
        "peak RSS grew by {grown} bytes for a {}-byte export",
        body.len()
    );
}
