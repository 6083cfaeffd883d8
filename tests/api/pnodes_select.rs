//! Filters, order and pages of `/api/pnodes`, and the 400s for bad values.

use sea_orm::{ActiveValue::Set, DatabaseConnection};
use serde_json::json;

use crate::{
    fixtures::{ago, insert, node, now, observation, sample, sighting},
    helpers::{Backend, TestApp, spawn_app},
};

on_both_backends!(
    each_filter_selects_what_it_names,
    each_sort_orders_both_ways_with_nulls_last_and_ties_by_id,
    pages_cover_the_selection_exactly_once,
    bad_values_are_400s_naming_the_parameter_and_unknown_ones_are_ignored,
);

const SEED_A: &str = "http://127.0.0.1:6000";
const SEED_B: &str = "http://127.0.0.1:6001";

/// One node of the fixture network and its newest rows.
struct Traits {
    pubkey: &'static str,
    reachable: bool,
    public: Option<bool>,
    version: Option<&'static str>,
    address: &'static str,
    uptime: Option<i64>,
    streams: Option<i64>,
    seen_seconds_ago: i64,
    credits: Option<i64>,
    seeds: &'static [&'static str],
}

const FIVE: [Traits; 5] = [
    Traits {
        pubkey: "Alpha1",
        reachable: true,
        public: Some(true),
        version: Some("0.9.1"),
        address: "127.0.0.1:9001",
        uptime: Some(500),
        streams: Some(3),
        seen_seconds_ago: 50,
        credits: Some(10),
        seeds: &[SEED_A],
    },
    Traits {
        pubkey: "Bravo2",
        reachable: false,
        public: None,
        version: Some("0.10.0"),
        address: "127.0.0.2:9001",
        uptime: Some(100),
        streams: Some(3),
        seen_seconds_ago: 10,
        credits: None,
        seeds: &[SEED_B],
    },
    Traits {
        pubkey: "Charlie3",
        reachable: true,
        public: Some(false),
        version: Some("0.8.0-trynet.20251212183600.9eea72e"),
        address: "127.0.0.3:9001",
        uptime: None,
        streams: Some(1),
        seen_seconds_ago: 30,
        credits: Some(30),
        seeds: &[SEED_A, SEED_B],
    },
    Traits {
        pubkey: "Delta4",
        reachable: false,
        public: Some(true),
        version: Some("unknown"),
        address: "127.0.0.4:9001",
        uptime: Some(900),
        streams: None,
        seen_seconds_ago: 20,
        credits: Some(20),
        seeds: &[],
    },
    Traits {
        pubkey: "Echo5",
        reachable: true,
        public: Some(true),
        version: None,
        address: "127.0.0.5:9001",
        uptime: Some(100),
        streams: Some(7),
        seen_seconds_ago: 40,
        credits: Some(10),
        seeds: &[SEED_A],
    },
];

/// Writes the five nodes of `FIVE`; returns their ids in that order.
async fn five_nodes(conn: &DatabaseConnection) -> Vec<i64> {
    let now = now();
    let mut ids = Vec::new();
    for t in FIVE {
        let n = insert(
            conn,
            entity::pnode::ActiveModel {
                reachable: Set(t.reachable),
                latest_credits: Set(t.credits),
                ..node(t.pubkey, now)
            },
        )
        .await;
        insert(
            conn,
            entity::pnode_gossip_observation::ActiveModel {
                address: Set(t.address.into()),
                version: Set(t.version.map(Into::into)),
                is_public: Set(t.public),
                last_seen_timestamp: Set(Some(ago(now, t.seen_seconds_ago).timestamp())),
                ..observation(n.id, SEED_A, ago(now, 5))
            },
        )
        .await;
        insert(
            conn,
            entity::pnode_stats_sample::ActiveModel {
                uptime_seconds: Set(t.uptime),
                active_streams: Set(t.streams),
                ..sample(n.id, ago(now, 5))
            },
        )
        .await;
        for seed in t.seeds {
            insert(conn, sighting(n.id, seed, now)).await;
        }
        ids.push(n.id);
    }
    ids
}

async fn pubkeys(app: &TestApp, query: &str) -> Vec<String> {
    let body = app.get_json(&format!("/api/pnodes?{query}")).await;
    body["globalPnodes"]
        .as_array()
        .expect("globalPnodes")
        .iter()
        .map(|n| n["pubkey"].as_str().expect("pubkey").to_owned())
        .collect()
}

async fn each_filter_selects_what_it_names(backend: Backend) {
    let app = spawn_app(&backend).await;
    five_nodes(&app.db.connect().await).await;

    for (query, expected) in [
        ("", &["Alpha1", "Bravo2", "Charlie3", "Delta4", "Echo5"][..]),
        (
            "seed=http://127.0.0.1:6000",
            &["Alpha1", "Charlie3", "Echo5"],
        ),
        ("seed=http://127.0.0.1:6001/", &["Bravo2", "Charlie3"]),
        ("seed=http://127.0.0.1:7777", &[]),
        ("reachable=true", &["Alpha1", "Charlie3", "Echo5"]),
        ("reachable=false", &["Bravo2", "Delta4"]),
        ("public=true", &["Alpha1", "Delta4", "Echo5"]),
        ("public=false", &["Bravo2", "Charlie3"]),
        ("version=0.10.0", &["Bravo2"]),
        ("q=charlie", &["Charlie3"]),
        ("q=127.0.0.4", &["Delta4"]),
        ("q=%25", &[]),
        (
            "reachable=true&public=true&seed=http://127.0.0.1:6000",
            &["Alpha1", "Echo5"],
        ),
    ] {
        assert_eq!(pubkeys(&app, query).await, expected, "?{query}");
    }
}

async fn each_sort_orders_both_ways_with_nulls_last_and_ties_by_id(backend: Backend) {
    let app = spawn_app(&backend).await;
    five_nodes(&app.db.connect().await).await;

    for (query, expected) in [
        (
            "sort=id&order=desc",
            &["Echo5", "Delta4", "Charlie3", "Bravo2", "Alpha1"][..],
        ),
        (
            "sort=pubkey&order=desc",
            &["Echo5", "Delta4", "Charlie3", "Bravo2", "Alpha1"],
        ),
        (
            "sort=version",
            &["Delta4", "Charlie3", "Alpha1", "Bravo2", "Echo5"],
        ),
        (
            "sort=version&order=desc",
            &["Bravo2", "Alpha1", "Charlie3", "Delta4", "Echo5"],
        ),
        (
            "sort=uptime",
            &["Bravo2", "Echo5", "Alpha1", "Delta4", "Charlie3"],
        ),
        (
            "sort=uptime&order=desc",
            &["Delta4", "Alpha1", "Echo5", "Bravo2", "Charlie3"],
        ),
        (
            "sort=activeStreams",
            &["Charlie3", "Alpha1", "Bravo2", "Echo5", "Delta4"],
        ),
        (
            "sort=activeStreams&order=desc",
            &["Echo5", "Bravo2", "Alpha1", "Charlie3", "Delta4"],
        ),
        (
            "sort=lastSeen",
            &["Alpha1", "Echo5", "Charlie3", "Delta4", "Bravo2"],
        ),
        (
            "sort=lastSeen&order=desc",
            &["Bravo2", "Delta4", "Charlie3", "Echo5", "Alpha1"],
        ),
        (
            "sort=credits",
            &["Alpha1", "Echo5", "Delta4", "Charlie3", "Bravo2"],
        ),
        (
            "sort=credits&order=desc",
            &["Charlie3", "Delta4", "Echo5", "Alpha1", "Bravo2"],
        ),
    ] {
        assert_eq!(pubkeys(&app, query).await, expected, "?{query}");
    }
}

async fn pages_cover_the_selection_exactly_once(backend: Backend) {
    let app = spawn_app(&backend).await;
    let ids = five_nodes(&app.db.connect().await).await;

    let mut seen = Vec::new();
    for offset in [0, 2, 4] {
        let body = app
            .get_json(&format!("/api/pnodes?sort=id&limit=2&offset={offset}"))
            .await;
        assert!(
            body["globalPnodes"].is_null(),
            "a page carries its nodes once, under `pnodes`"
        );
        assert_eq!(
            body["pagination"],
            json!({"total": 5, "limit": 2, "offset": offset, "hasMore": offset + 2 < 5})
        );
        seen.extend(
            body["pnodes"]
                .as_array()
                .expect("page")
                .iter()
                .map(|n| n["id"].as_i64().expect("id")),
        );
    }
    assert_eq!(seen, ids);

    let past_the_end = app.get_json("/api/pnodes?limit=10&offset=5").await;
    assert_eq!(past_the_end["pnodes"], json!([]));
    assert_eq!(
        past_the_end["pagination"],
        json!({"total": 5, "limit": 10, "offset": 5, "hasMore": false})
    );

    let filtered = app.get_json("/api/pnodes?reachable=false&limit=1").await;
    assert_eq!(
        filtered["pagination"],
        json!({"total": 2, "limit": 1, "offset": 0, "hasMore": true})
    );

    let whole = app.get_json("/api/pnodes").await;
    assert!(
        whole.get("pagination").is_none() && whole.get("pnodes").is_none(),
        "{whole}"
    );
}

async fn bad_values_are_400s_naming_the_parameter_and_unknown_ones_are_ignored(backend: Backend) {
    let app = spawn_app(&backend).await;

    for (query, parameter) in [
        ("reachable=yes", "reachable"),
        ("public=TRUE", "public"),
        ("sort=speed", "sort"),
        ("order=sideways", "order"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=abc", "limit"),
        ("offset=-5", "offset"),
    ] {
        let response = app.get(&format!("/api/pnodes?{query}")).await;
        assert_eq!(response.status(), 400, "?{query}");
        let body: serde_json::Value = response.json().await.expect("json");
        assert_eq!(body["code"], "invalid_parameter", "?{query}");
        let message = body["error"].as_str().expect("message");
        assert!(
            message.contains(&format!("`{parameter}`")),
            "?{query}: {message}"
        );
    }

    let ignored = app.get_json("/api/pnodes?_=1764953798&cacheBuster=x").await;
    assert_eq!(ignored["globalPnodes"], json!([]));
}
