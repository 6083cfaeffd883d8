//! A node's history, the network now and cycle by cycle, checked against values computed by hand
//! from rows written straight to the database.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use sea_orm::ActiveValue::Set;
use serde_json::{Value, json};

use pnode_tools::generate::{Spec, generate};

use crate::{
    fixtures::{credits, insert, node, observation, sample, sighting},
    helpers::{Backend, TestApp, spawn_app, spawn_app_with},
};

on_both_backends!(
    a_nodes_stats_are_downsampled_exactly_into_buckets_of_the_window,
    each_gossip_change_appears_once_at_the_time_it_was_first_seen,
    an_empty_window_is_empty_and_bad_windows_or_pubkeys_are_refused,
    the_network_now_counts_versions_storage_uptime_and_credits,
    the_networks_cycles_are_downsampled_exactly,
    each_endpoint_costs_the_same_statements_for_a_small_shallow_and_a_large_deep_network,
);

const SEED_A: &str = "http://127.0.0.1:6000";
const SEED_B: &str = "http://127.0.0.1:6001";

/// A whole second, an hour ago: the start of every window here.
fn t0() -> DateTime<Utc> {
    let now = Utc::now() - Duration::hours(1);
    DateTime::from_timestamp(now.timestamp(), 0).expect("a time")
}

fn at(t0: DateTime<Utc>, seconds: i64) -> DateTime<Utc> {
    t0 + Duration::seconds(seconds)
}

fn iso(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `from`, `to` and `points` as a query string: 10 buckets of 60 s from `t0`.
fn window(t0: DateTime<Utc>) -> String {
    format!(
        "from={}&to={}&points=10",
        t0.to_rfc3339_opts(SecondsFormat::Secs, true),
        at(t0, 600).to_rfc3339_opts(SecondsFormat::Secs, true)
    )
    .replace('+', "%2B")
}

async fn history(app: &TestApp, pubkey: &str, query: &str) -> Value {
    app.get_json(&format!("/api/pnodes/{pubkey}/history?{query}"))
        .await
}

async fn a_nodes_stats_are_downsampled_exactly_into_buckets_of_the_window(backend: Backend) {
    let app = spawn_app(&backend).await;
    let conn = app.db.connect().await;
    let t0 = t0();
    let a = insert(&conn, node("A", t0)).await;
    // (seconds after t0, cpu, ram used, uptime, packets in/s, bytes/s, streams)
    type Row = (i64, f64, i64, i64, f64, Option<f64>, i64);
    let rows: [Row; 7] = [
        (-1, 99.0, 9_999, 1, 9.0, Some(9.0), 9), // before the window
        (0, 10.0, 100, 1_000, 1.0, Some(10.0), 1),
        (30, 20.0, 300, 1_030, 3.0, None, 3),
        (60, 30.0, 500, 1_060, 5.0, Some(30.0), 2), // the edge: the second bucket
        (119, 50.0, 700, 5, 7.0, Some(50.0), 4),    // a restart: uptime falls
        (300, 40.0, 400, 300, 4.0, Some(40.0), 0),
        (600, 99.0, 9_999, 1, 9.0, Some(9.0), 9), // `to` is excluded
    ];
    for (seconds, cpu, ram, uptime, packets, bps, streams) in rows {
        insert(
            &conn,
            entity::pnode_stats_sample::ActiveModel {
                cpu_percent: Set(Some(cpu)),
                ram_used_bytes: Set(Some(ram)),
                uptime_seconds: Set(Some(uptime)),
                packets_in_per_sec: Set(Some(packets)),
                packets_out_per_sec: Set(Some(packets / 2.0)),
                bytes_per_second: Set(bps),
                active_streams: Set(Some(streams)),
                ..sample(a.id, at(t0, seconds))
            },
        )
        .await;
    }

    let body = history(&app, "A", &window(t0)).await;

    assert_eq!(body["bucketSeconds"], 60);
    assert_eq!(body["points"], 10);
    assert_eq!(body["from"], iso(t0));
    assert_eq!(
        body["stats"],
        json!([
            {
                "bucketStart": iso(t0), "samples": 2,
                "cpuPercentAvg": 15.0, "cpuPercentMax": 20.0,
                "ramUsedBytesAvg": 200.0, "ramUsedBytesMax": 300,
                "uptimeSecondsLast": 1_030,
                "packetsInPerSecAvg": 2.0, "packetsOutPerSecAvg": 1.0,
                "bytesPerSecondAvg": 10.0, "activeStreamsMax": 3,
            },
            {
                "bucketStart": iso(at(t0, 60)), "samples": 2,
                "cpuPercentAvg": 40.0, "cpuPercentMax": 50.0,
                "ramUsedBytesAvg": 600.0, "ramUsedBytesMax": 700,
                "uptimeSecondsLast": 5,
                "packetsInPerSecAvg": 6.0, "packetsOutPerSecAvg": 3.0,
                "bytesPerSecondAvg": 40.0, "activeStreamsMax": 4,
            },
            {
                "bucketStart": iso(at(t0, 300)), "samples": 1,
                "cpuPercentAvg": 40.0, "cpuPercentMax": 40.0,
                "ramUsedBytesAvg": 400.0, "ramUsedBytesMax": 400,
                "uptimeSecondsLast": 300,
                "packetsInPerSecAvg": 4.0, "packetsOutPerSecAvg": 2.0,
                "bytesPerSecondAvg": 40.0, "activeStreamsMax": 0,
            },
        ]),
        "buckets 2 to 4 and 6 to 9 have no sample and are absent"
    );

    // A fixed window is validated: the same question again is a 304 for one statement.
    let first = app
        .get(&format!("/api/pnodes/A/history?{}", window(t0)))
        .await;
    let tag = first.headers()["etag"].to_str().expect("ascii").to_owned();
    let before = app.statements();
    let again = app
        .client
        .get(app.url(&format!("/api/pnodes/A/history?{}", window(t0))))
        .header("if-none-match", &tag)
        .send()
        .await
        .expect("request");
    assert_eq!(again.status(), 304);
    assert_eq!(app.statements() - before, 1);
}

async fn each_gossip_change_appears_once_at_the_time_it_was_first_seen(backend: Backend) {
    let app = spawn_app(&backend).await;
    let conn = app.db.connect().await;
    let t0 = t0();
    let a = insert(&conn, node("A", t0)).await;
    // (seconds after t0, seed, address, version, public)
    let seen = [
        (10, SEED_A, "10.0.0.1:9001", Some("0.7.3"), Some(false)),
        (20, SEED_B, "10.0.0.1:9001", Some("0.7.3"), None), // null public is private
        (40, SEED_A, "10.0.0.1:9001", Some("0.8.0"), Some(false)),
        (45, SEED_B, "10.0.0.1:9001", Some("0.8.0"), Some(false)),
        (50, SEED_A, "10.0.0.2:9001", Some("0.8.0"), Some(false)),
        (70, SEED_A, "10.0.0.2:9001", Some("0.8.0"), Some(true)),
        (80, SEED_B, "10.0.0.2:9001", Some("0.8.0"), Some(true)),
        (700, SEED_A, "10.0.0.3:9001", None, Some(true)), // after the window
    ];
    for (seconds, seed, address, version, public) in seen {
        insert(
            &conn,
            entity::pnode_gossip_observation::ActiveModel {
                address: Set(address.into()),
                version: Set(version.map(str::to_owned)),
                is_public: Set(public),
                ..observation(a.id, seed, at(t0, seconds))
            },
        )
        .await;
    }
    insert(&conn, sighting(a.id, SEED_B, at(t0, 20))).await;
    insert(&conn, credits("A", 100, at(t0, 5))).await;
    insert(&conn, credits("A", 150, at(t0, 500))).await;
    insert(&conn, credits("A", 900, at(t0, 700))).await;

    let body = history(&app, "A", &window(t0)).await;

    assert_eq!(
        body["gossip"],
        json!([
            {"firstSeenAt": iso(at(t0, 10)), "address": "10.0.0.1:9001", "version": "0.7.3", "isPublic": false, "changed": []},
            {"firstSeenAt": iso(at(t0, 40)), "address": "10.0.0.1:9001", "version": "0.8.0", "isPublic": false, "changed": ["version"]},
            {"firstSeenAt": iso(at(t0, 50)), "address": "10.0.0.2:9001", "version": "0.8.0", "isPublic": false, "changed": ["address"]},
            {"firstSeenAt": iso(at(t0, 70)), "address": "10.0.0.2:9001", "version": "0.8.0", "isPublic": true, "changed": ["isPublic"]},
        ])
    );
    assert_eq!(
        body["seeds"],
        json!([{"seedBaseUrl": SEED_B, "firstSeenAt": iso(at(t0, 20)), "lastSeenAt": iso(at(t0, 20))}])
    );
    assert_eq!(
        body["credits"],
        json!([
            {"observedAt": iso(at(t0, 5)), "credits": 100},
            {"observedAt": iso(at(t0, 500)), "credits": 150},
        ])
    );
}

async fn an_empty_window_is_empty_and_bad_windows_or_pubkeys_are_refused(backend: Backend) {
    let app = spawn_app(&backend).await;
    let conn = app.db.connect().await;
    insert(&conn, node("A", t0())).await;

    let body = history(&app, "A", "").await;
    assert_eq!(
        (
            &body["stats"],
            &body["gossip"],
            &body["seeds"],
            &body["credits"]
        ),
        (&json!([]), &json!([]), &json!([]), &json!([]))
    );
    assert_eq!(body["points"], 200);

    for (query, parameter) in [
        ("from=yesterday", "from"),
        ("to=2025-13-01T00:00:00Z", "to"),
        ("points=0", "points"),
        ("points=1001", "points"),
        ("from=2025-12-07T00:00:00Z&to=2025-12-06T00:00:00Z", "from"),
        ("from=2020-01-01T00:00:00Z&to=2025-12-06T00:00:00Z", "from"),
    ] {
        for path in ["/api/pnodes/A/history", "/api/network/history"] {
            let response = app.get(&format!("{path}?{query}")).await;
            assert_eq!(response.status(), 400, "{path}?{query}");
            let error: Value = response.json().await.expect("json");
            assert!(
                error["error"]
                    .as_str()
                    .is_some_and(|e| e.contains(&format!("`{parameter}`"))),
                "{path}?{query}: {error}"
            );
        }
    }
    let missing = app.get("/api/pnodes/nobody/history").await;
    assert_eq!(missing.status(), 404);
    let control = app.get("/api/pnodes/A%00/history").await;
    assert_eq!(control.status(), 400);
}

async fn the_network_now_counts_versions_storage_uptime_and_credits(backend: Backend) {
    let app = spawn_app(&backend).await;
    let conn = app.db.connect().await;
    let now = Utc::now();
    // (pubkey, reachable, credits, version, public, committed, used, uptime, observed hours ago)
    let nodes = [
        (
            "A",
            true,
            Some(50),
            Some("0.10.1"),
            Some(true),
            1_000,
            10,
            Some(100),
            1,
        ),
        (
            "B",
            true,
            Some(10),
            Some("0.9.0"),
            Some(false),
            2_000,
            20,
            Some(300),
            1,
        ),
        (
            "C",
            false,
            Some(30),
            Some("0.9.0"),
            None,
            3_000,
            30,
            None,
            30,
        ),
        ("D", false, None, None, Some(true), 4_000, 40, Some(200), 1),
    ];
    for (pubkey, reachable, latest, version, public, committed, used, uptime, hours) in nodes {
        // The node's row with the copies of its newest observation and sample, as the
        // collector writes them beside the history rows.
        let row = insert(
            &conn,
            entity::pnode::ActiveModel {
                reachable: Set(reachable),
                latest_credits: Set(latest),
                created_at: Set(now - Duration::hours(if pubkey == "A" { 2 } else { 48 })),
                gossip_observed_at: Set(Some(now - Duration::hours(hours))),
                gossip_version: Set(version.map(str::to_owned)),
                gossip_is_public: Set(public),
                gossip_storage_committed: Set(Some(committed)),
                gossip_storage_used: Set(Some(used)),
                stats_sampled_at: Set(uptime.map(|_| now - Duration::minutes(5))),
                stats_uptime_seconds: Set(uptime),
                ..node(pubkey, now)
            },
        )
        .await;
        insert(
            &conn,
            entity::pnode_gossip_observation::ActiveModel {
                version: Set(version.map(str::to_owned)),
                is_public: Set(public),
                storage_committed: Set(Some(committed)),
                storage_used: Set(Some(used)),
                ..observation(row.id, SEED_A, now - Duration::hours(hours))
            },
        )
        .await;
        if let Some(uptime) = uptime {
            insert(
                &conn,
                entity::pnode_stats_sample::ActiveModel {
                    uptime_seconds: Set(Some(uptime)),
                    ..sample(row.id, now - Duration::minutes(5))
                },
            )
            .await;
        }
    }

    let body = app.get_json("/api/network").await;

    assert_eq!(
        (&body["nodes"], &body["reachable"], &body["public"]),
        (&json!(4), &json!(2), &json!(2))
    );
    assert_eq!(
        body["versions"],
        json!([
            {"version": "0.9.0", "nodes": 2},
            {"version": "0.10.1", "nodes": 1},
            {"version": null, "nodes": 1},
        ]),
        "numeric version order, unknown last"
    );
    assert_eq!(
        body["storage"],
        json!({"committedBytes": 10_000, "usedBytes": 100})
    );
    assert_eq!(body["uptimeSeconds"], json!({"median": 200, "p90": 300}));
    assert_eq!(body["credits"]["total"], 90);
    assert_eq!(body["credits"]["median"], 30);
    assert_eq!(body["credits"]["p90"], 50);
    assert_eq!(
        body["credits"]["top"],
        json!([
            {"pubkey": "A", "network": "mainnet", "credits": 50},
            {"pubkey": "C", "network": "mainnet", "credits": 30},
            {"pubkey": "B", "network": "mainnet", "credits": 10},
        ])
    );
    assert_eq!(body["firstSeenLast24h"], 1);
    assert_eq!(body["goneLast24h"], 1, "C was last observed 30 hours ago");
    assert_eq!(body["lastCycle"], json!(null));
    assert_eq!(body["seenInLastCycle"], 0);
}

async fn the_networks_cycles_are_downsampled_exactly(backend: Backend) {
    let app = spawn_app(&backend).await;
    let conn = app.db.connect().await;
    let t0 = t0();
    // (seconds after t0, finished, observed, reachable, public, attempted, success)
    // In the order a collector writes them (ids grow with time).
    let runs = [
        (-5, true, 99, 99, 99, 99, 99), // before the window
        (0, true, 10, 4, 2, 10, 4),
        (59, true, 20, 6, 4, 20, 6),
        (60, true, 30, 8, 6, 30, 8),
        (90, false, 99, 99, 99, 99, 99), // unfinished: not counted
        (250, true, 40, 10, 8, 40, 10),
    ];
    for (seconds, finished, observed, reachable, public, attempted, success) in runs {
        insert(
            &conn,
            entity::ingestion_run::ActiveModel {
                started_at: Set(at(t0, seconds)),
                finished_at: Set(finished.then(|| at(t0, seconds + 1))),
                attempted: Set(attempted),
                success: Set(success),
                backoff: Set(0),
                failed: Set(attempted - success),
                observed: Set(observed),
                reachable: Set(reachable),
                public: Set(public),
                ..Default::default()
            },
        )
        .await;
    }

    let body = app
        .get_json(&format!("/api/network/history?{}", window(t0)))
        .await;

    assert_eq!(
        body["cycles"],
        json!([
            {"bucketStart": iso(t0), "cycles": 2, "observedAvg": 15.0, "observedMax": 20,
             "reachableAvg": 5.0, "publicAvg": 3.0, "statsAttempted": 30, "statsSucceeded": 10},
            {"bucketStart": iso(at(t0, 60)), "cycles": 1, "observedAvg": 30.0, "observedMax": 30,
             "reachableAvg": 8.0, "publicAvg": 6.0, "statsAttempted": 30, "statsSucceeded": 8},
            {"bucketStart": iso(at(t0, 240)), "cycles": 1, "observedAvg": 40.0, "observedMax": 40,
             "reachableAvg": 10.0, "publicAvg": 8.0, "statsAttempted": 40, "statsSucceeded": 10},
        ])
    );
    let now = app.get_json("/api/network").await;
    assert_eq!(
        now["lastCycle"]["observed"], 40,
        "the newest finished cycle"
    );
}

async fn each_endpoint_costs_the_same_statements_for_a_small_shallow_and_a_large_deep_network(
    backend: Backend,
) {
    let mut costs = Vec::new();
    for (nodes, depth) in [(10, 2), (600, 40)] {
        // Uncached, so that every request runs its own statements.
        let app = spawn_app_with(&backend, |settings| settings.http.view_cache_mb = 0).await;
        let spec = Spec {
            nodes,
            observations_per_node: depth,
            samples_per_node: depth,
            seeds: 3,
            random_seed: 5,
        };
        generate(&app.db.connect().await, spec, Utc::now())
            .await
            .expect("generate");
        let pubkey = app.get_json("/api/pnodes?limit=1").await["pnodes"][0]["pubkey"]
            .as_str()
            .expect("pubkey")
            .to_owned();
        let window = format!(
            "from={}&to={}",
            (Utc::now() - Duration::hours(3)).to_rfc3339_opts(SecondsFormat::Secs, true),
            (Utc::now() + Duration::minutes(1)).to_rfc3339_opts(SecondsFormat::Secs, true),
        );
        let mut cost = Vec::new();
        for path in [
            format!("/api/pnodes/{pubkey}/history?{window}"),
            "/api/network".to_owned(),
            format!("/api/network/history?{window}"),
            "/api/seeds".to_owned(),
            "/api/seeds/1/pnodes?limit=10&sort=uptime".to_owned(),
        ] {
            let before = app.statements();
            app.get_json(&path).await;
            cost.push((
                path.split('?').next().map(str::to_owned),
                app.statements() - before,
            ));
        }
        costs.push(cost);
    }
    assert_eq!(
        costs[0], costs[1],
        "statements per request, small and large"
    );
    let counts: Vec<u64> = costs[0].iter().map(|(_, n)| *n).collect();
    // The data version, then: id, stats, gossip, sightings, credits | the newest cycle of its
    // one network and every node's newest rows | the network's cycles, together and on their
    // own | seeds, newest cycle, its per-seed figures, newest answers | the seeds, the answer's
    // time, then a page (ids, details, sightings).
    assert_eq!(counts, [6, 3, 3, 5, 6]);
}
