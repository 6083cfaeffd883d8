//! `/metrics`: valid Prometheus text whose counters move with traffic, view statements and
//! collection cycles.

use std::time::{Duration, Instant};

use pnode_tools::{
    generate::{Spec, generate},
    sim::{SimConfig, SimNetwork},
};
use prometheus_parse::{Scrape, Value};

use crate::{
    collecting::fast_settings,
    fixtures::now,
    helpers::{Backend, TestApp, spawn_app, spawn_app_with},
};

on_both_backends!(
    metrics_are_valid_prometheus_text_and_move_with_traffic,
    the_view_statements_histogram_counts_each_requests_statements,
    collection_cycles_and_their_nodes_reach_the_metrics,
);

/// Checks every line is a sample or a `# HELP|TYPE|UNIT` comment and the text ends with `# EOF`,
/// the strict reading (the parser below skips lines it does not understand).
fn check_exposition(text: &str) {
    let mut lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.pop(), Some("# EOF"), "the text ends with # EOF");
    for line in lines {
        if let Some(comment) = line.strip_prefix("# ") {
            let mut words = comment.splitn(3, ' ');
            let (kind, name) = (words.next(), words.next());
            assert!(
                matches!(kind, Some("HELP" | "TYPE" | "UNIT")) && name.is_some_and(valid_name),
                "bad comment line: {line:?}"
            );
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("a sample has a value");
        assert!(value.parse::<f64>().is_ok(), "bad value in {line:?}");
        let name = series.split('{').next().unwrap_or_default();
        assert!(valid_name(name), "bad metric name in {line:?}");
        if let Some(labels) = series.strip_prefix(name).filter(|l| !l.is_empty()) {
            assert!(
                labels.starts_with('{') && labels.ends_with('}'),
                "bad labels in {line:?}"
            );
        }
    }
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

pub async fn scrape(app: &TestApp) -> Scrape {
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("application/openmetrics-text"),
    );
    let text = response.text().await.expect("text");
    check_exposition(&text);
    Scrape::parse(text.lines().map(|line| Ok(line.to_owned()))).expect("parses")
}

/// The value of the counter or gauge `metric` with these labels (0 when it has not appeared yet).
pub fn value(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == metric)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(v)))
        .map(|s| match s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
            _ => panic!("{metric} is not a single value"),
        })
        .sum()
}

async fn metrics_are_valid_prometheus_text_and_move_with_traffic(backend: Backend) {
    let app = spawn_app(&backend).await;
    let before = scrape(&app).await;

    for _ in 0..3 {
        assert_eq!(app.get("/api/pnodes").await.status(), 200);
    }
    assert_eq!(app.get("/api/pnodes?limit=nope").await.status(), 400);
    assert_eq!(app.get("/no/such/path").await.status(), 404);
    let after = scrape(&app).await;

    let requests = |scrape: &Scrape, route: &str, status: &str| {
        value(
            scrape,
            "http_requests_total",
            &[("method", "GET"), ("route", route), ("status", status)],
        )
    };
    assert_eq!(
        requests(&after, "/api/pnodes", "200") - requests(&before, "/api/pnodes", "200"),
        3.0
    );
    assert_eq!(
        requests(&after, "/api/pnodes", "400") - requests(&before, "/api/pnodes", "400"),
        1.0
    );
    assert_eq!(
        requests(&after, "unmatched", "404") - requests(&before, "unmatched", "404"),
        1.0,
        "an unknown path is counted under one label, not its own"
    );
    let latency_count = |scrape: &Scrape| {
        value(
            scrape,
            "http_request_duration_seconds_count",
            &[("route", "/api/pnodes")],
        )
    };
    assert_eq!(latency_count(&after) - latency_count(&before), 4.0);

    assert!(value(&after, "process_resident_memory_bytes", &[]) > 1_000_000.0);
    assert!(value(&after, "process_virtual_memory_bytes", &[]) > 1_000_000.0);
    let allocated = value(&after, "pnode_allocator_allocated_bytes", &[]);
    assert_eq!(
        allocated > 0.0,
        pnode_api::observe::allocator::NAME == "jemalloc",
        "the allocator's own figure is there when it reports one: {allocated}"
    );
    assert_eq!(
        value(&after, "pnode_memory_alert_threshold_bytes", &[]),
        1024.0 * 1024.0 * 1024.0
    );
    assert_eq!(value(&after, "db_pool_max_connections", &[]), 4.0);
    let open = value(&after, "db_pool_connections", &[]);
    assert!((1.0..=4.0).contains(&open), "{open} connections open");
}

async fn the_view_statements_histogram_counts_each_requests_statements(backend: Backend) {
    // Uncached, so that each request runs its own statements (the cached path: view_cache.rs).
    let app = spawn_app_with(&backend, |settings| settings.http.view_cache_mb = 0).await;
    let spec = Spec {
        nodes: 1_200,
        observations_per_node: 2,
        samples_per_node: 2,
        seeds: 2,
        random_seed: 7,
    };
    generate(&app.db.connect().await, spec, now())
        .await
        .expect("generate");
    let before = scrape(&app).await;

    // 1,200 nodes are three chunks: 2 + 2 × 3 statements for the full view; 4 for a page.
    app.get_json("/api/pnodes").await;
    app.get_json("/api/pnodes?limit=10").await;
    let after = scrape(&app).await;

    let moved = |metric: &str| value(&after, metric, &[]) - value(&before, metric, &[]);
    assert_eq!(moved("pnode_view_statements_count"), 2.0);
    assert_eq!(moved("pnode_view_statements_sum"), 8.0 + 4.0);
}

async fn collection_cycles_and_their_nodes_reach_the_metrics(backend: Backend) {
    let sim = SimNetwork::start(SimConfig::default()).await.expect("sim");
    let seeds = sim.seed_urls();
    sim.set_seed_fault(0, pnode_tools::sim::SeedFault::Garbage);
    let app = spawn_app_with(&backend, |settings| {
        settings.seeds = seeds.join(",").parse().expect("seeds");
        settings.collector = fast_settings();
    })
    .await;

    let deadline = Instant::now() + Duration::from_secs(30);
    let metrics = loop {
        let metrics = scrape(&app).await;
        let cycles = [("outcome", "finished")];
        if value(&metrics, "pnode_collector_cycles_total", &cycles) >= 1.0 {
            break metrics;
        }
        assert!(Instant::now() < deadline, "no cycle finished");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    let view = app.get_json("/api/pnodes").await;
    let nodes = view["globalPnodes"].as_array().map_or(0, Vec::len);
    assert!(nodes > 0);
    assert_eq!(
        value(&metrics, "pnode_collector_nodes_observed", &[]),
        nodes as f64,
        "the healthy seeds' nodes"
    );
    assert!(
        value(
            &metrics,
            "pnode_collector_stats_calls_total",
            &[("outcome", "success")]
        ) > 0.0
    );
    assert!(value(&metrics, "pnode_collector_pods_skipped_total", &[]) > 0.0);
    assert!(
        value(
            &metrics,
            "pnode_collector_seed_errors_total",
            &[("seed", seeds[0].as_str())]
        ) >= 1.0,
        "the garbage-answering seed is counted"
    );
    assert_eq!(
        value(
            &metrics,
            "pnode_collector_seed_errors_total",
            &[("seed", seeds[1].as_str())]
        ),
        0.0
    );
    assert!(
        value(
            &metrics,
            "pnode_collector_cycle_duration_seconds_count",
            &[]
        ) >= 1.0
    );
}
