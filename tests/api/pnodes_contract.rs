//! `/api/pnodes` keeps the dashboards' contract: names, types, nulls and the meaning of each field.

use chrono::{DateTime, SecondsFormat, Utc};
use sea_orm::ActiveValue::Set;
use serde_json::json;

use crate::{
    fixtures::{ago, credits, insert, node, now, observation, sample, sighting},
    helpers::{Backend, TestApp, spawn_app, spawn_app_with},
};

on_both_backends!(
    a_node_shows_every_contract_field_from_its_newest_rows,
    the_newest_sample_is_shown_when_it_has_throughput,
    a_node_with_nothing_observed_has_nulls_not_missing_keys,
    gossip_last_seen_falls_back_to_when_it_was_observed,
    the_credit_delta_needs_a_snapshot_from_a_day_ago,
    one_node_is_found_by_pubkey_and_an_unknown_one_is_404,
);

const SEED_A: &str = "http://127.0.0.1:6000";
const SEED_B: &str = "http://127.0.0.1:6001";

fn iso(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

async fn only_node(app: &TestApp) -> serde_json::Value {
    let body = app.get_json("/api/pnodes").await;
    let nodes = body["globalPnodes"].as_array().expect("globalPnodes");
    assert_eq!(nodes.len(), 1, "{body}");
    nodes[0].clone()
}

async fn a_node_shows_every_contract_field_from_its_newest_rows(backend: Backend) {
    let app = spawn_app_with(&backend, |settings| {
        settings.seeds = format!("{SEED_A},main={SEED_B}").parse().expect("seeds");
    })
    .await;
    let conn = app.db.connect().await;
    let now = now();
    let pubkey = "7T4zPNNDAT7rwkQ6Rf2QyMvLwowQ4KDSxKRXF9qEtYvR";
    let a = insert(
        &conn,
        entity::pnode::ActiveModel {
            reachable: Set(true),
            last_stats_attempt_at: Set(Some(ago(now, 30))),
            last_stats_success_at: Set(Some(ago(now, 30))),
            latest_credits: Set(Some(300)),
            credits_updated_at: Set(Some(ago(now, 3600))),
            ..node(pubkey, now)
        },
    )
    .await;
    insert(
        &conn,
        entity::pnode_gossip_observation::ActiveModel {
            address: Set("127.0.0.9:9001".into()),
            version: Set(Some("0.7.3".into())),
            last_seen_timestamp: Set(Some(ago(now, 125).timestamp())),
            is_public: Set(Some(false)),
            ..observation(a.id, SEED_B, ago(now, 120))
        },
    )
    .await;
    insert(
        &conn,
        entity::pnode_gossip_observation::ActiveModel {
            address: Set("127.0.0.10:9001".into()),
            version: Set(Some("0.8.0".into())),
            last_seen_timestamp: Set(Some(ago(now, 65).timestamp())),
            is_public: Set(Some(true)),
            storage_committed: Set(Some(183_000_000_000)),
            storage_used: Set(Some(94_633)),
            storage_usage_percent: Set(Some(0.0517)),
            ..observation(a.id, SEED_A, ago(now, 60))
        },
    )
    .await;
    // The older sample has a throughput value, the newer one (after a counter reset) has none.
    insert(
        &conn,
        entity::pnode_stats_sample::ActiveModel {
            cpu_percent: Set(Some(6.63)),
            ram_used_bytes: Set(Some(0)),
            ram_total_bytes: Set(Some(12_567_232_512)),
            uptime_seconds: Set(Some(154_484)),
            packets_in_per_sec: Set(Some(2.5)),
            packets_out_per_sec: Set(Some(1.5)),
            total_bytes: Set(Some(0)),
            active_streams: Set(Some(2)),
            bytes_per_second: Set(Some(100.5)),
            ..sample(a.id, ago(now, 120))
        },
    )
    .await;
    insert(
        &conn,
        entity::pnode_stats_sample::ActiveModel {
            cpu_percent: Set(Some(9.0)),
            total_bytes: Set(Some(10)),
            ..sample(a.id, ago(now, 60))
        },
    )
    .await;
    insert(&conn, sighting(a.id, SEED_B, ago(now, 120))).await;
    insert(&conn, sighting(a.id, SEED_A, ago(now, 60))).await;
    insert(&conn, credits(pubkey, 200, ago(now, 25 * 3600))).await;
    insert(&conn, credits(pubkey, 250, ago(now, 23 * 3600))).await;
    insert(&conn, credits(pubkey, 300, ago(now, 3600))).await;

    let mut body = app.get_json("/api/pnodes").await;
    // The configured seeds make the app collect: whether a cycle closed (and scored the node)
    // since the rows went in is a matter of timing. The score is checked in `scores.rs`.
    let shown = body["globalPnodes"][0].as_object_mut().expect("one node");
    for key in ["score", "scoreParts"] {
        assert!(shown.remove(key).is_some(), "{key} in {body}");
    }

    assert_eq!(
        body,
        json!({
            "seeds": [
                {"id": SEED_A, "name": "Seed 1 (127.0.0.1:6000)", "baseUrl": SEED_A, "network": "mainnet"},
                {"id": SEED_B, "name": "main", "baseUrl": SEED_B, "network": "mainnet"},
            ],
            "globalPnodes": [{
                "id": a.id,
                "pubkey": pubkey,
                "reachable": true,
                "failureCount": 0,
                "lastStatsAttemptAt": iso(ago(now, 30)),
                "lastStatsSuccessAt": iso(ago(now, 30)),
                "latestAddress": "127.0.0.10:9001",
                "latestVersion": "0.8.0",
                "gossipLastSeen": iso(DateTime::from_timestamp(ago(now, 65).timestamp(), 0).expect("time")),
                "seedBaseUrlsSeen": [SEED_A, SEED_B],
                "seedsSeenCount": 2,
                "latestStats": {
                    "timestamp": iso(ago(now, 120)),
                    "cpuPercent": 6.63,
                    "ramUsedBytes": 0,
                    "ramTotalBytes": 12_567_232_512_i64,
                    "uptimeSeconds": 154_484,
                    "packetsInPerSec": 2.5,
                    "packetsOutPerSec": 1.5,
                    "totalBytes": 0,
                    "activeStreams": 2,
                    "bytesPerSecond": 100.5,
                },
                "latestCredits": 300,
                "creditsUpdatedAt": iso(ago(now, 3600)),
                "creditDelta24h": 100,
                "isPublic": true,
                "storageCommitted": 183_000_000_000_i64,
                "storageUsed": 94_633,
                "storageUsagePercent": 0.0517,
                "network": "mainnet",
            }],
        })
    );
}

async fn the_newest_sample_is_shown_when_it_has_throughput(backend: Backend) {
    let app = spawn_app(&backend).await;
    let conn = app.db.connect().await;
    let now = now();
    let a = insert(&conn, node("A", now)).await;
    for (age, bps) in [(120, Some(1.0)), (60, Some(2.0)), (180, Some(3.0))] {
        insert(
            &conn,
            entity::pnode_stats_sample::ActiveModel {
                bytes_per_second: Set(bps),
                ..sample(a.id, ago(now, age))
            },
        )
        .await;
    }

    let shown = only_node(&app).await;
    assert_eq!(shown["latestStats"]["bytesPerSecond"], 2.0);
    assert_eq!(shown["latestStats"]["timestamp"], iso(ago(now, 60)));

    // Neither of the two newest has throughput: the newest is shown, whatever older ones had.
    for age in [30, 10] {
        insert(&conn, sample(a.id, ago(now, age))).await;
    }
    let shown = only_node(&app).await;
    assert_eq!(shown["latestStats"]["timestamp"], iso(ago(now, 10)));
    assert_eq!(shown["latestStats"]["bytesPerSecond"], json!(null));
}

async fn a_node_with_nothing_observed_has_nulls_not_missing_keys(backend: Backend) {
    let app = spawn_app(&backend).await;
    let conn = app.db.connect().await;
    let a = insert(&conn, node("lonely", now())).await;

    let body = app.get_json("/api/pnodes").await;

    assert_eq!(body["seeds"], json!([]));
    assert_eq!(
        body["globalPnodes"],
        json!([{
            "id": a.id,
            "pubkey": "lonely",
            "reachable": false,
            "failureCount": 0,
            "lastStatsAttemptAt": null,
            "lastStatsSuccessAt": null,
            "latestAddress": null,
            "latestVersion": null,
            "gossipLastSeen": null,
            "seedBaseUrlsSeen": [],
            "seedsSeenCount": 0,
            "latestStats": null,
            "latestCredits": null,
            "creditsUpdatedAt": null,
            "creditDelta24h": null,
            "isPublic": false,
            "storageCommitted": null,
            "storageUsed": null,
            "storageUsagePercent": null,
            "score": null,
            "scoreParts": null,
            "network": "mainnet",
        }])
    );
}

async fn gossip_last_seen_falls_back_to_when_it_was_observed(backend: Backend) {
    let app = spawn_app(&backend).await;
    let conn = app.db.connect().await;
    let now = now();
    let a = insert(&conn, node("A", now)).await;
    insert(
        &conn,
        entity::pnode_gossip_observation::ActiveModel {
            last_seen_timestamp: Set(Some(0)),
            ..observation(a.id, SEED_A, ago(now, 42))
        },
    )
    .await;

    assert_eq!(only_node(&app).await["gossipLastSeen"], iso(ago(now, 42)));
}

async fn the_credit_delta_needs_a_snapshot_from_a_day_ago(backend: Backend) {
    let app = spawn_app(&backend).await;
    let conn = app.db.connect().await;
    let now = now();
    insert(&conn, node("A", now)).await;
    insert(&conn, credits("A", 50, ago(now, 3600))).await;
    insert(&conn, credits("someone-else", 10, ago(now, 48 * 3600))).await;

    assert_eq!(only_node(&app).await["creditDelta24h"], json!(null));

    insert(&conn, credits("A", 70, ago(now, 24 * 3600 + 60))).await;
    assert_eq!(only_node(&app).await["creditDelta24h"], -20);
}

async fn one_node_is_found_by_pubkey_and_an_unknown_one_is_404(backend: Backend) {
    let app = spawn_app(&backend).await;
    let conn = app.db.connect().await;
    let now = now();
    insert(&conn, node("A", now)).await;
    let b = insert(&conn, node("B", now)).await;
    insert(&conn, sighting(b.id, SEED_A, now)).await;

    let shown = app.get_json("/api/pnodes/B").await;
    assert_eq!(shown["id"], b.id);
    assert_eq!(shown["seedBaseUrlsSeen"], json!([SEED_A]));

    let missing = app.get("/api/pnodes/nobody").await;
    assert_eq!(missing.status(), 404);
    let body: serde_json::Value = missing.json().await.expect("json");
    assert_eq!(body["code"], "not_found");
}
