//! Retention deletes exactly what is older than each window, in batches, and the view stays right.

use chrono::Duration;
use pnode_api::collector::{retention, settings::RetentionSettings};
use sea_orm::{ActiveValue::Set, ConnectionTrait};
use serde_json::json;

use crate::{
    collecting::{connect, scalar},
    fixtures::{credits, insert, node, now, observation, sample, sighting},
    helpers::{Backend, spawn_app},
};

on_both_backends!(retention_deletes_exactly_what_each_window_no_longer_keeps_in_batches);

const OLD_SEED: &str = "http://127.0.0.1:6000";
const LIVE_SEED: &str = "http://127.0.0.1:6001";

async fn retention_deletes_exactly_what_each_window_no_longer_keeps_in_batches(backend: Backend) {
    let app = spawn_app(&backend).await;
    let conn = app.db.connect().await;
    let now = now();
    let days = |n: i64| now - Duration::days(n);
    let a = insert(&conn, node("A", now)).await;
    for age in [8, 8, 8, 9, 10, 11, 12] {
        insert(
            &conn,
            entity::pnode_gossip_observation::ActiveModel {
                address: Set("127.0.0.1:1".into()),
                ..observation(a.id, OLD_SEED, days(age))
            },
        )
        .await;
    }
    insert(
        &conn,
        entity::pnode_gossip_observation::ActiveModel {
            address: Set("127.0.0.2:9001".into()),
            ..observation(a.id, LIVE_SEED, days(6))
        },
    )
    .await;
    insert(
        &conn,
        entity::pnode_seed_sighting::ActiveModel {
            last_seen_at: Set(days(8)),
            ..sighting(a.id, OLD_SEED, days(12))
        },
    )
    .await;
    insert(&conn, sighting(a.id, LIVE_SEED, days(1))).await;
    insert(&conn, sample(a.id, days(31))).await;
    insert(&conn, sample(a.id, days(29))).await;
    for age in [91, 89] {
        insert(&conn, credits("A", 10, days(age))).await;
    }
    for age in [31, 1] {
        conn.execute_unprepared(&format!(
            "INSERT INTO ingestion_runs (started_at, finished_at, attempted, success, backoff, failed, observed) \
             VALUES ('{0}', '{0}', 0, 0, 0, 0, 0)",
            days(age).to_rfc3339()
        ))
        .await
        .map(|_| ())
        .unwrap_or_else(|err| panic!("insert a run: {err}"));
    }

    let pool = connect(&app.db.url).await;
    let before = pool.statements_executed();
    let pruned = retention::prune(pool.conn(), &RetentionSettings::default(), now, 3)
        .await
        .expect("prune");

    assert_eq!(
        pruned,
        retention::Pruned {
            observations: 7,
            sightings: 1,
            samples: 1,
            runs: 1,
            credits: 1,
            events: 0,
        }
    );
    // 7 old observations in batches of 3 take three statements; each other table one. Each
    // batch that deleted rows bumps the data version in its transaction: one more statement.
    // Before them, one statement each clears the nodes' copies of an old observation or sample
    // (these fixtures have none, so no bump). The events table, empty here, takes one.
    assert_eq!(pool.statements_executed() - before, 2 + 2 * (3 + 4) + 1);
    for (table, left) in [
        ("pnode_gossip_observations", 1),
        ("pnode_seed_sightings", 1),
        ("pnode_stats_samples", 1),
        ("ingestion_runs", 1),
        ("pod_credits_snapshots", 1),
    ] {
        assert_eq!(
            scalar(&conn, &format!("SELECT COUNT(*) AS n FROM {table}")).await,
            left,
            "{table}"
        );
    }

    let shown = app.get_json("/api/pnodes/A").await;
    assert_eq!(
        shown["seedBaseUrlsSeen"],
        json!([LIVE_SEED]),
        "an expired sighting is not shown"
    );
    assert_eq!(shown["latestAddress"], "127.0.0.2:9001");

    let again = retention::prune(pool.conn(), &RetentionSettings::default(), now, 3)
        .await
        .expect("prune");
    assert_eq!(again.total(), 0, "nothing is deleted twice");
}
