//! The process watching its own memory: the endpoint against the OS's figures, the periodic
//! `memory` log line, the alert, and the view's debug line. All drive the real binary, so that the
//! memory measured is the server's alone.

use std::time::Duration;

use pnode_tools::generate::{Spec, generate};

use crate::{
    binary::Server,
    collecting::migrated,
    fixtures::now,
    helpers::{Backend, TestDb},
};

// Memory does not depend on the database: these run on SQLite only. The view's line runs on both.
on_both_backends!(the_view_logs_its_rows_and_rss_at_debug_level);

const MIB: u64 = 1024 * 1024;

/// A field of `/proc/<pid>/status` in bytes (`VmRSS`, `VmSize`).
fn proc_status(pid: u32, field: &str) -> u64 {
    pnode_api::observe::memory::proc_status_bytes(pid, field).expect("procfs")
}

fn within(a: u64, b: u64, fraction: f64) -> bool {
    (a.abs_diff(b) as f64) <= b as f64 * fraction
}

async fn memory_of(addr: &str) -> serde_json::Value {
    let response = crate::helpers::get(format!("http://{addr}/api/system/memory"))
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    response.json().await.expect("json")
}

fn is_memory_line(line: &serde_json::Value) -> bool {
    line["target"] == "memory" && line["message"] == "memory"
}

#[tokio::test]
async fn the_memory_endpoint_agrees_with_the_os() {
    let db = TestDb::create(&Backend::Sqlite).await;
    let mut server = Server::start(&db.url);
    let addr = server.wait_until_listening();

    let body = memory_of(&addr).await;
    let pid = server.pid().as_raw() as u32;
    let (rss, size) = (proc_status(pid, "VmRSS"), proc_status(pid, "VmSize"));

    assert_eq!(body["pid"], pid);
    let reported = body["rssBytes"].as_u64().expect("rssBytes");
    assert!(within(reported, rss, 0.05), "{reported} vs VmRSS {rss}");
    let reported = body["virtualBytes"].as_u64().expect("virtualBytes");
    assert!(within(reported, size, 0.05), "{reported} vs VmSize {size}");
    assert!(body["uptimeSeconds"].as_u64().expect("uptime") < 60);
    assert_eq!(body["alertBytes"], 1024 * MIB);
    assert_eq!(body["overAlert"], false);
    assert_eq!(
        body["allocatedBytes"].is_u64(),
        pnode_api::observe::allocator::NAME == "jemalloc",
        "allocatedBytes is there exactly when the allocator reports it: {body}"
    );
}

#[tokio::test]
async fn memory_is_logged_every_interval_and_the_alert_fires_once_per_crossing() {
    let db = TestDb::create(&Backend::Sqlite).await;
    let mut server = Server::start_with(
        &db.url,
        &[
            ("PNODE_MEMORY_LOG_INTERVAL", "100ms"),
            ("PNODE_MEMORY_ALERT_MB", "1"),
        ],
    );
    let addr = server.wait_until_listening();

    let lines = server.lines_during(Duration::from_millis(1500));

    let samples: Vec<_> = lines.iter().filter(|l| is_memory_line(l)).collect();
    assert!(
        samples.len() >= 5,
        "{} memory lines in 1.5 s",
        samples.len()
    );
    assert!(samples.iter().all(|l| l["rss_bytes"].as_u64() > Some(MIB)));
    let alerts: Vec<_> = lines
        .iter()
        .filter(|l| l["message"] == "memory above the alert threshold")
        .collect();
    // The monitor starts after "listening" is logged; its first tick crosses the 1 MB threshold
    // and every later one, still above it, stays silent.
    assert_eq!(alerts.len(), 1, "one alert for one crossing: {alerts:?}");
    for alert in &alerts {
        assert_eq!(alert["level"], "ERROR");
        assert_eq!(alert["target"], "memory");
        assert_eq!(alert["alert_bytes"], MIB);
    }
    let body = memory_of(&addr).await;
    assert_eq!(body["alertBytes"], MIB);
    assert_eq!(body["overAlert"], true);
}

#[tokio::test]
async fn a_zero_interval_turns_the_memory_lines_off() {
    let db = TestDb::create(&Backend::Sqlite).await;
    let mut server = Server::start_with(&db.url, &[("PNODE_MEMORY_LOG_INTERVAL", "0")]);
    server.wait_until_listening();

    let lines = server.lines_during(Duration::from_secs(1));

    assert!(
        !lines.iter().any(is_memory_line),
        "no memory lines: {lines:?}"
    );
}

async fn the_view_logs_its_rows_and_rss_at_debug_level(backend: Backend) {
    let db = TestDb::create(&backend).await;
    let spec = Spec {
        nodes: 30,
        observations_per_node: 4,
        samples_per_node: 2,
        seeds: 2,
        random_seed: 3,
    };
    let pool = migrated(&db.url).await;
    generate(pool.conn(), spec, now()).await.expect("generate");
    pool.close().await.expect("close");
    // Uncached, so that the request reads the rows it reports.
    let mut server = Server::start_with(
        &db.url,
        &[
            ("RUST_LOG", "info,pnode_api::view=debug"),
            ("PNODE_VIEW_CACHE_MB", "0"),
        ],
    );
    let addr = server.wait_until_listening();

    let body: serde_json::Value = crate::helpers::get(format!("http://{addr}/api/pnodes"))
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    let line = server.wait_for_log("view request done");

    let sightings: usize = body["globalPnodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|node| node["seedBaseUrlsSeen"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(line["level"], "DEBUG");
    assert_eq!(line["selected"], 30);
    assert_eq!(line["nodes"], 30);
    assert_eq!(line["sightings"], sightings);
    assert_eq!(line["statements"], 4, "seeds, select, details, sightings");
    assert!(line["rss_before_bytes"].as_u64() > Some(MIB), "{line}");
    assert!(line["rss_after_bytes"].as_u64() > Some(MIB), "{line}");
}

/// Each SQLite connection keeps its own page cache; the pool's connections use the small one set,
/// and the file is in WAL mode although no pool connection sets it.
#[tokio::test]
async fn sqlite_connections_use_wal_and_the_configured_page_cache() {
    use sea_orm::{ConnectionTrait, Statement};

    let app = crate::helpers::spawn_app_with(&Backend::Sqlite, |settings| {
        settings.database.sqlite_cache_kib = 300;
    })
    .await;

    let conn = app.app_db.conn();
    let pragma = |name: &str| {
        let statement =
            Statement::from_string(conn.get_database_backend(), format!("PRAGMA {name}"));
        async move {
            conn.query_one_raw(statement)
                .await
                .expect("query")
                .expect("a row")
        }
    };
    let cache: i64 = pragma("cache_size")
        .await
        .try_get_by_index(0)
        .expect("a number");
    assert_eq!(cache, -300, "negative: KiB");
    let journal: String = pragma("journal_mode")
        .await
        .try_get_by_index(0)
        .expect("a mode");
    assert_eq!(journal, "wal");
}
