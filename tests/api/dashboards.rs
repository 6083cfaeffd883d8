//! Both versions of the dashboard, replayed against a collected network: the first reads the
//! whole view and filters and sorts it itself; the later one asks for pages with each sort and
//! filter it offers. Every field of the contract (`../shared/reference/api-contract.md`) is
//! checked on every node they get, and the seed picker lists every seed the nodes name, also on
//! a replica that configures no seeds.

use std::{
    collections::{BTreeSet, HashSet},
    time::Duration,
};

use pnode_api::collector::settings::CollectorSettings;
use pnode_tools::sim::{SimConfig, SimNetwork};
use serde_json::Value;

use crate::{
    collecting::fast_settings,
    helpers::{Backend, TestApp, spawn_app_on, spawn_app_with},
};

on_both_backends!(
    the_full_view_dashboard_gets_every_contract_field_and_a_complete_seed_picker,
    the_paged_dashboard_walks_every_sort_and_filter_it_offers,
    a_replica_without_configured_seeds_lists_the_seeds_its_data_names,
);

/// The kinds of value the contract's tables name.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Integer,
    Number,
    Text,
    Boolean,
    Time,
    Texts,
    Stats,
    ScoreParts,
}

/// Every field of `GlobalPnode`, its kind and whether it may be null: the contract's, then the
/// health score and the network this API adds (extra keys, which the dashboards ignore).
const NODE_FIELDS: [(&str, Kind, bool); 22] = [
    ("id", Kind::Integer, false),
    ("pubkey", Kind::Text, false),
    ("reachable", Kind::Boolean, false),
    ("failureCount", Kind::Integer, false),
    ("lastStatsAttemptAt", Kind::Time, true),
    ("lastStatsSuccessAt", Kind::Time, true),
    ("latestAddress", Kind::Text, true),
    ("latestVersion", Kind::Text, true),
    ("gossipLastSeen", Kind::Time, true),
    ("seedBaseUrlsSeen", Kind::Texts, false),
    ("seedsSeenCount", Kind::Integer, false),
    ("latestStats", Kind::Stats, true),
    ("latestCredits", Kind::Integer, true),
    ("creditsUpdatedAt", Kind::Time, true),
    ("creditDelta24h", Kind::Integer, true),
    ("isPublic", Kind::Boolean, false),
    ("storageCommitted", Kind::Integer, true),
    ("storageUsed", Kind::Integer, true),
    ("storageUsagePercent", Kind::Number, true),
    ("score", Kind::Number, true),
    ("scoreParts", Kind::ScoreParts, true),
    ("network", Kind::Text, false),
];

/// Every field of `scoreParts`.
const SCORE_PART_FIELDS: [(&str, Kind, bool); 6] = [
    ("reachable", Kind::Number, false),
    ("statsSuccess24h", Kind::Number, false),
    ("versionCurrency", Kind::Number, false),
    ("uptime", Kind::Number, false),
    ("seedVisibility", Kind::Number, false),
    ("scoredAt", Kind::Time, false),
];

/// Every field of `LatestStats`.
const STATS_FIELDS: [(&str, Kind, bool); 10] = [
    ("timestamp", Kind::Time, false),
    ("cpuPercent", Kind::Number, true),
    ("ramUsedBytes", Kind::Integer, true),
    ("ramTotalBytes", Kind::Integer, true),
    ("uptimeSeconds", Kind::Integer, true),
    ("packetsInPerSec", Kind::Number, true),
    ("packetsOutPerSec", Kind::Number, true),
    ("totalBytes", Kind::Integer, true),
    ("activeStreams", Kind::Integer, true),
    ("bytesPerSecond", Kind::Number, true),
];

/// `2025-12-06T21:49:13.005Z`: UTC, milliseconds, `Z`.
fn is_contract_time(text: &str) -> bool {
    let bytes = text.as_bytes();
    text.len() == 24
        && chrono::DateTime::parse_from_rfc3339(text).is_ok()
        && bytes[19] == b'.'
        && bytes[23] == b'Z'
}

/// Panics unless `object` has exactly `fields`, each of its kind (or null where allowed).
fn check_fields(object: &Value, fields: &[(&str, Kind, bool)], context: &str) {
    let keys: BTreeSet<&str> = object
        .as_object()
        .unwrap_or_else(|| panic!("{context}: not an object: {object}"))
        .keys()
        .map(String::as_str)
        .collect();
    let expected: BTreeSet<&str> = fields.iter().map(|(name, _, _)| *name).collect();
    assert_eq!(keys, expected, "{context}: the keys of {object}");
    for &(name, kind, nullable) in fields {
        let value = &object[name];
        if value.is_null() {
            assert!(nullable, "{context}: {name} is null: {object}");
            continue;
        }
        let fits = match kind {
            Kind::Integer => value.is_i64(),
            Kind::Number => value.is_number(),
            Kind::Text => value.is_string(),
            Kind::Boolean => value.is_boolean(),
            Kind::Time => value.as_str().is_some_and(is_contract_time),
            Kind::Texts => value
                .as_array()
                .is_some_and(|items| items.iter().all(Value::is_string)),
            Kind::Stats => {
                check_fields(value, &STATS_FIELDS, &format!("{context}.{name}"));
                true
            }
            Kind::ScoreParts => {
                check_fields(value, &SCORE_PART_FIELDS, &format!("{context}.{name}"));
                true
            }
        };
        assert!(fits, "{context}: {name} is not a {kind:?}: {value}");
    }
}

fn check_node(node: &Value, context: &str) {
    check_fields(node, &NODE_FIELDS, context);
    let seen = node["seedBaseUrlsSeen"].as_array().map(Vec::len);
    assert_eq!(
        node["seedsSeenCount"].as_u64().map(|n| n as usize),
        seen,
        "{context}"
    );
}

fn check_seeds(body: &Value) -> Vec<String> {
    let seeds = body["seeds"].as_array().expect("seeds");
    seeds
        .iter()
        .map(|seed| {
            let keys: BTreeSet<&str> = seed
                .as_object()
                .expect("a seed is an object")
                .keys()
                .map(String::as_str)
                .collect();
            // The contract's keys, and the network this API adds.
            assert_eq!(
                keys,
                BTreeSet::from(["id", "name", "baseUrl", "network"]),
                "{seed}"
            );
            assert_eq!(seed["id"], seed["baseUrl"], "{seed}");
            assert!(seed["name"].as_str().is_some_and(|n| !n.is_empty()));
            seed["baseUrl"].as_str().expect("baseUrl").to_owned()
        })
        .collect()
}

fn keys(body: &Value) -> BTreeSet<&str> {
    body.as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect()
}

/// The app over a simulated network, after its first cycle. The next is an hour away, so the
/// data holds still while a test walks it.
async fn collected(backend: &Backend, sim: &SimNetwork) -> TestApp {
    let seeds = sim.seed_urls();
    let app = spawn_app_with(backend, |settings| {
        settings.seeds = seeds.join(",").parse().expect("seeds");
        settings.collector = CollectorSettings {
            interval: Duration::from_secs(3600),
            ..fast_settings()
        };
    })
    .await;
    app.wait_for_a_cycle().await;
    app
}

async fn the_full_view_dashboard_gets_every_contract_field_and_a_complete_seed_picker(
    backend: Backend,
) {
    let sim = SimNetwork::start(SimConfig::default()).await.expect("sim");
    let app = collected(&backend, &sim).await;

    // It polls the whole view.
    let body = app.get_json("/api/pnodes").await;
    assert_eq!(keys(&body), BTreeSet::from(["seeds", "globalPnodes"]));
    let nodes = body["globalPnodes"].as_array().expect("globalPnodes");
    assert_eq!(nodes.len(), sim.pods().len());
    for node in nodes {
        check_node(node, &format!("node {}", node["pubkey"]));
    }

    // Its seed picker: every seed a node names is listed.
    let listed: HashSet<String> = check_seeds(&body).into_iter().collect();
    let named: HashSet<String> = nodes
        .iter()
        .flat_map(|n| n["seedBaseUrlsSeen"].as_array().expect("seen").clone())
        .map(|s| s.as_str().expect("a URL").to_owned())
        .collect();
    assert!(!named.is_empty());
    assert!(named.is_subset(&listed), "{named:?} listed in {listed:?}");

    // Its own filters: by seed and by reachability, each finding nodes.
    for seed in &listed {
        assert!(
            nodes.iter().any(|n| n["seedBaseUrlsSeen"]
                .as_array()
                .is_some_and(|seen| seen.iter().any(|s| s == seed.as_str()))),
            "the picker's {seed} shows nodes"
        );
    }
    let reachable = nodes.iter().filter(|n| n["reachable"] == true).count();
    let public = sim.pods().iter().filter(|p| p.public).count();
    assert_eq!(reachable, public);
    assert_eq!(
        nodes.iter().filter(|n| n["isPublic"] == true).count(),
        public
    );
}

/// The paged dashboard's sorts (each either way) and filters.
const SORTS: [&str; 6] = [
    "version",
    "uptime",
    "activeStreams",
    "lastSeen",
    "credits",
    "pubkey",
];

async fn the_paged_dashboard_walks_every_sort_and_filter_it_offers(backend: Backend) {
    let sim = SimNetwork::start(SimConfig::default()).await.expect("sim");
    let cached = collected(&backend, &sim).await;
    let uncached = spawn_app_on(&cached.db, |settings| {
        settings.run_collector = false;
        settings.http.view_cache_mb = 0;
    })
    .await;
    for app in [&cached, &uncached] {
        walk_every_sort_and_filter(app, &sim).await;
    }
}

/// The value a sort orders by, as JSON.
fn sort_value<'a>(node: &'a Value, sort: &str) -> &'a Value {
    match sort {
        "version" => &node["latestVersion"],
        "uptime" => &node["latestStats"]["uptimeSeconds"],
        "activeStreams" => &node["latestStats"]["activeStreams"],
        "lastSeen" => &node["gossipLastSeen"],
        "credits" => &node["latestCredits"],
        "pubkey" => &node["pubkey"],
        other => panic!("no sort {other}"),
    }
}

/// How two values of one sort compare, ascending, nulls last.
fn compare_values(sort: &str, a: &Value, b: &Value) -> std::cmp::Ordering {
    use std::cmp::Ordering::{Greater, Less};
    match (a, b) {
        (Value::Null, Value::Null) => std::cmp::Ordering::Equal,
        (Value::Null, _) => Greater,
        (_, Value::Null) => Less,
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .expect("numbers compare"),
        (Value::String(x), Value::String(y)) if sort == "version" => {
            pnode_api::domain::version::compare(x, y)
        }
        (Value::String(x), Value::String(y)) => x.cmp(y),
        other => panic!("{sort}: cannot compare {other:?}"),
    }
}

/// Panics unless `nodes` are in the order `sort` and `order` ask for: by the value, nulls last
/// either way, ties by id in the same direction.
fn check_order(nodes: &[Value], sort: &str, order: &str, context: &str) {
    for pair in nodes.windows(2) {
        let by_value = compare_values(sort, sort_value(&pair[0], sort), sort_value(&pair[1], sort));
        let nulls = sort_value(&pair[0], sort).is_null() || sort_value(&pair[1], sort).is_null();
        let by_value = if order == "desc" && !nulls {
            by_value.reverse()
        } else {
            by_value
        };
        let by_id = pair[0]["id"].as_i64().cmp(&pair[1]["id"].as_i64());
        let by_id = if order == "desc" {
            by_id.reverse()
        } else {
            by_id
        };
        assert!(
            by_value.then(by_id) == std::cmp::Ordering::Less,
            "{context}: {} before {}",
            pair[0],
            pair[1]
        );
    }
}

async fn walk_every_sort_and_filter(app: &TestApp, sim: &SimNetwork) {
    let everyone: HashSet<String> = sim.pods().into_iter().map(|p| p.pubkey).collect();
    let seeds = sim.seed_urls();
    let mut filters = vec![
        String::new(),
        "&reachable=true".to_owned(),
        "&reachable=false".to_owned(),
        "&public=true".to_owned(),
    ];
    filters.extend(seeds.iter().map(|seed| format!("&seed={seed}")));

    for sort in SORTS {
        for order in ["asc", "desc"] {
            for filter in &filters {
                let query = format!("sort={sort}&order={order}{filter}");
                let walked = walk_pages(app, &query, 7).await;
                let unique: HashSet<&String> = walked.iter().collect();
                assert_eq!(unique.len(), walked.len(), "{query}: no node twice");
                let whole = app.get_json(&format!("/api/pnodes?{query}")).await;
                let nodes = whole["globalPnodes"].as_array().expect("nodes");
                check_order(nodes, sort, order, &query);
                for node in nodes {
                    let holds = match filter.split_once('=') {
                        None => true,
                        Some(("&reachable", value)) => node["reachable"] == (value == "true"),
                        Some(("&public", value)) => node["isPublic"] == (value == "true"),
                        Some(("&seed", seed)) => node["seedBaseUrlsSeen"]
                            .as_array()
                            .is_some_and(|seen| seen.iter().any(|s| s == seed)),
                        Some(other) => panic!("no filter {other:?}"),
                    };
                    assert!(holds, "{query}: {node}");
                }
                let expected: Vec<String> = nodes
                    .iter()
                    .map(|n| n["pubkey"].as_str().expect("pubkey").to_owned())
                    .collect();
                assert_eq!(
                    walked, expected,
                    "{query}: the pages are the whole view, in order"
                );
                if filter.is_empty() {
                    assert_eq!(walked.iter().cloned().collect::<HashSet<_>>(), everyone);
                }
            }
        }
    }
}

/// Every page of `query`, `limit` nodes at a time, checking each page's shape and pagination.
async fn walk_pages(app: &TestApp, query: &str, limit: u64) -> Vec<String> {
    let mut pubkeys = Vec::new();
    let mut offset = 0;
    loop {
        let page = app
            .get_json(&format!(
                "/api/pnodes?{query}&limit={limit}&offset={offset}"
            ))
            .await;
        assert_eq!(
            keys(&page),
            BTreeSet::from(["seeds", "pnodes", "pagination"]),
            "{query}: a page does not repeat its nodes"
        );
        check_seeds(&page);
        let nodes = page["pnodes"].as_array().expect("pnodes");
        for node in nodes {
            check_node(node, query);
            pubkeys.push(node["pubkey"].as_str().expect("pubkey").to_owned());
        }
        let pagination = &page["pagination"];
        let total = pagination["total"].as_u64().expect("total");
        assert_eq!(pagination["limit"], limit);
        assert_eq!(pagination["offset"], offset);
        let more = offset + (nodes.len() as u64) < total;
        assert_eq!(pagination["hasMore"], more, "{query} at {offset}");
        if !more {
            assert_eq!(pubkeys.len() as u64, total, "{query}");
            return pubkeys;
        }
        assert_eq!(nodes.len() as u64, limit);
        offset += limit;
    }
}

async fn a_replica_without_configured_seeds_lists_the_seeds_its_data_names(backend: Backend) {
    let sim = SimNetwork::start(SimConfig::default()).await.expect("sim");
    let collector = collected(&backend, &sim).await;
    let replica = crate::helpers::spawn_app_on(&collector.db, |settings| {
        settings.run_collector = false;
    })
    .await;

    let body = replica.get_json("/api/pnodes").await;
    let listed = check_seeds(&body);
    let mut expected = sim.seed_urls();
    expected.sort();
    assert_eq!(listed, expected, "the seeds its data names, in order");
    let page = replica.get_json("/api/pnodes?limit=1").await;
    assert_eq!(check_seeds(&page), expected);
}
