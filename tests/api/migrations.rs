//! The real migrations, on the real backends: up, down, up again.

use migration::{Migrator, MigratorTrait, SchemaManager};

use crate::helpers::{Backend, TestDb};

on_both_backends!(
    migrations_go_up_down_and_up_again_with_every_index,
    counters_keep_64_bits_and_a_node_takes_its_history_with_it,
    a_nodes_newest_figures_are_filled_from_its_history_when_their_columns_arrive,
    stored_urls_lose_their_user_info,
    nodes_from_before_networks_go_to_the_network_the_operator_names,
);

const TABLES: [&str; 9] = [
    "events",
    "data_version",
    "pnodes",
    "pnode_gossip_observations",
    "pnode_stats_samples",
    "pnode_seed_sightings",
    "pod_credits_snapshots",
    "ingestion_runs",
    "ingestion_run_seed_stats",
];

const INDEXES: [(&str, &str); 16] = [
    ("pnodes", "idx_pnodes_network_pubkey"),
    ("ingestion_runs", "idx_ingestion_runs_network_started"),
    (
        "pod_credits_snapshots",
        "idx_pod_credits_snapshots_network_pubkey_observed",
    ),
    ("events", "idx_events_at"),
    ("pnodes", "idx_pnodes_score"),
    (
        "pnode_gossip_observations",
        "idx_pnode_gossip_observations_seed_observed",
    ),
    (
        "ingestion_run_seed_stats",
        "idx_ingestion_run_seed_stats_seed_run",
    ),
    (
        "pnode_gossip_observations",
        "idx_pnode_gossip_observations_pnode_observed",
    ),
    (
        "pnode_gossip_observations",
        "idx_pnode_gossip_observations_seed",
    ),
    (
        "pnode_gossip_observations",
        "idx_pnode_gossip_observations_observed",
    ),
    (
        "pnode_stats_samples",
        "idx_pnode_stats_samples_pnode_sampled",
    ),
    ("pnode_stats_samples", "idx_pnode_stats_samples_sampled"),
    ("pnode_seed_sightings", "idx_pnode_seed_sightings_seed"),
    ("pnode_seed_sightings", "idx_pnode_seed_sightings_last_seen"),
    (
        "pod_credits_snapshots",
        "idx_pod_credits_snapshots_pubkey_observed",
    ),
    (
        "ingestion_run_seed_stats",
        "idx_ingestion_run_seed_stats_run_seed",
    ),
];

async fn assert_schema(manager: &SchemaManager<'_>, present: bool) {
    for table in TABLES {
        assert_eq!(
            manager.has_table(table).await.expect("has_table"),
            present,
            "table {table}"
        );
    }
    if present {
        for (table, index) in INDEXES {
            assert!(
                manager.has_index(table, index).await.expect("has_index"),
                "index {index}"
            );
        }
    }
}

async fn migrations_go_up_down_and_up_again_with_every_index(backend: Backend) {
    let db = TestDb::create(&backend).await;
    let conn = db.connect().await;
    let manager = SchemaManager::new(&conn);

    Migrator::up(&conn, None).await.expect("up");
    assert_schema(&manager, true).await;
    assert!(
        Migrator::get_pending_migrations(&conn)
            .await
            .expect("status")
            .is_empty()
    );

    Migrator::down(&conn, None).await.expect("down");
    assert_schema(&manager, false).await;
    assert_eq!(
        Migrator::get_applied_migrations(&conn)
            .await
            .expect("status")
            .len(),
        0
    );

    Migrator::up(&conn, None).await.expect("up again");
    assert_schema(&manager, true).await;
    conn.close().await.expect("close");
}

async fn counters_keep_64_bits_and_a_node_takes_its_history_with_it(backend: Backend) {
    use entity::{
        pnode, pnode_gossip_observation as observation, pnode_seed_sighting as sighting,
        pnode_stats_sample as sample,
    };
    use sea_orm::{ActiveModelTrait, EntityTrait, PaginatorTrait, Set};

    let db = TestDb::create(&backend).await;
    let conn = db.connect().await;
    Migrator::up(&conn, None).await.expect("up");
    let now = chrono::Utc::now();
    let big = i64::from(u32::MAX) * 1_000;

    let node = pnode::ActiveModel {
        pubkey: Set("7T4zPNNDAT7rwkQ6Rf2QyMvLwowQ4KDSxKRXF9qEtYvR".into()),
        created_at: Set(now),
        updated_at: Set(now),
        reachable: Set(false),
        failure_count: Set(0),
        latest_credits: Set(Some(big)),
        ..Default::default()
    }
    .insert(&conn)
    .await
    .expect("insert a node");
    observation::ActiveModel {
        pnode_id: Set(node.id),
        seed_base_url: Set("http://127.0.0.1:6000".into()),
        address: Set("127.0.0.1:9001".into()),
        observed_at: Set(now),
        storage_committed: Set(Some(big)),
        ..Default::default()
    }
    .insert(&conn)
    .await
    .expect("insert an observation");
    let stored = sample::ActiveModel {
        pnode_id: Set(node.id),
        sampled_at: Set(now),
        packets_received: Set(Some(i64::MAX)),
        total_bytes: Set(Some(big)),
        ..Default::default()
    }
    .insert(&conn)
    .await
    .expect("insert a sample");
    sighting::ActiveModel {
        pnode_id: Set(node.id),
        seed_base_url: Set("http://127.0.0.1:6000".into()),
        first_seen_at: Set(now),
        last_seen_at: Set(now),
    }
    .insert(&conn)
    .await
    .expect("insert a sighting");

    let read = sample::Entity::find_by_id(stored.id)
        .one(&conn)
        .await
        .expect("read")
        .expect("row");
    assert_eq!(read.packets_received, Some(i64::MAX));
    assert_eq!(read.total_bytes, Some(big));

    pnode::Entity::delete_by_id(node.id)
        .exec(&conn)
        .await
        .expect("delete the node");
    assert_eq!(
        observation::Entity::find()
            .count(&conn)
            .await
            .expect("count"),
        0
    );
    assert_eq!(sample::Entity::find().count(&conn).await.expect("count"), 0);
    assert_eq!(
        sighting::Entity::find().count(&conn).await.expect("count"),
        0
    );
    conn.close().await.expect("close");
}

/// Migration 6 adds copies of each node's newest observation and sample to its row, and fills
/// them from the history already there.
/// Migrations 6 and 8 fill each node's copies of its newest observation and sample from its
/// history, and 8 what was announced of it from them, so that an upgrade announces no change.
async fn a_nodes_newest_figures_are_filled_from_its_history_when_their_columns_arrive(
    backend: Backend,
) {
    use entity::{pnode, pnode_gossip_observation as observation, pnode_stats_sample as sample};
    use sea_orm::{EntityTrait, Set};

    let db = TestDb::create(&backend).await;
    let conn = db.connect().await;
    Migrator::up(&conn, Some(5)).await.expect("up to the fifth");
    let now = chrono::DateTime::from_timestamp(1_765_057_753, 0).expect("a time");
    let ago = |seconds| now - chrono::Duration::seconds(seconds);
    // Inserted without RETURNING: the entities already know the columns still to come.
    pnode::Entity::insert(pnode::ActiveModel {
        id: Set(1),
        pubkey: Set("A".into()),
        created_at: Set(now),
        updated_at: Set(now),
        reachable: Set(true),
        failure_count: Set(0),
        ..Default::default()
    })
    .exec_without_returning(&conn)
    .await
    .expect("a node");
    for (seconds, version, public, address) in [
        (120, "0.7.3", false, "127.0.0.1:9001"),
        (60, "0.8.0", true, "127.0.0.2:9001"),
    ] {
        observation::Entity::insert(observation::ActiveModel {
            pnode_id: Set(1),
            seed_base_url: Set("http://127.0.0.1:6000".into()),
            address: Set(address.into()),
            version: Set(Some(version.into())),
            is_public: Set(Some(public)),
            storage_used: Set(Some(seconds)),
            observed_at: Set(ago(seconds)),
            ..Default::default()
        })
        .exec_without_returning(&conn)
        .await
        .expect("an observation");
        sample::Entity::insert(sample::ActiveModel {
            pnode_id: Set(1),
            sampled_at: Set(ago(seconds)),
            uptime_seconds: Set(Some(1_000 - seconds)),
            ..Default::default()
        })
        .exec_without_returning(&conn)
        .await
        .expect("a sample");
    }

    migration::with_default_network(Some("mainnet".into()), Migrator::up(&conn, None))
        .await
        .expect("up");

    let node = pnode::Entity::find_by_id(1)
        .one(&conn)
        .await
        .expect("query")
        .expect("the node");
    assert_eq!(
        (
            node.gossip_observed_at,
            node.gossip_version.as_deref(),
            node.gossip_is_public,
            node.gossip_storage_used,
            node.stats_sampled_at,
            node.stats_uptime_seconds,
        ),
        (
            Some(ago(60)),
            Some("0.8.0"),
            Some(true),
            Some(60),
            Some(ago(60)),
            Some(940)
        ),
        "the newest observation's and sample's figures"
    );
    assert_eq!(node.gossip_address.as_deref(), Some("127.0.0.2:9001"));
    assert_eq!(
        (
            node.announced_at,
            node.announced_reachable,
            node.announced_version.as_deref(),
            node.announced_address.as_deref(),
            node.announced_gone,
        ),
        (
            Some(now),
            Some(true),
            Some("0.8.0"),
            Some("127.0.0.2:9001"),
            None
        ),
        "announced as it is"
    );
    Migrator::down(&conn, Some(1)).await.expect("down one");
    conn.close().await.expect("close");
}

/// Rows written before seed URLs lost their user info (`http://bob:pw@host`) are rewritten
/// without it, on the data of the schema just before; a sighting that then names the same (node,
/// seed) as one stored without user info becomes one, spanning both.
async fn stored_urls_lose_their_user_info(backend: Backend) {
    use entity::{
        pnode, pnode_gossip_observation as observation, pnode_seed_sighting as sighting,
        pod_credits_snapshot as snapshot,
    };
    use sea_orm::{EntityTrait, QueryOrder, Set};

    let db = TestDb::create(&backend).await;
    let conn = db.connect().await;
    Migrator::up(&conn, Some(8))
        .await
        .expect("up to the eighth");
    let now = chrono::DateTime::from_timestamp(1_765_057_753, 0).expect("a time");
    let ago = |seconds| now - chrono::Duration::seconds(seconds);
    let (secret, plain) = ("http://bob:hunter2@127.0.0.1:6000", "http://127.0.0.1:6000");
    for id in [1, 2] {
        pnode::Entity::insert(pnode::ActiveModel {
            id: Set(id),
            pubkey: Set(format!("node{id}")),
            created_at: Set(now),
            updated_at: Set(now),
            reachable: Set(false),
            failure_count: Set(0),
            ..Default::default()
        })
        .exec_without_returning(&conn)
        .await
        .expect("a node");
    }
    // Node 1 was seen through both spellings of the seed; node 2 only with the password.
    for (node, url, first, last) in [
        (1, secret, 300, 200),
        (1, plain, 100, 50),
        (2, secret, 90, 10),
    ] {
        sighting::Entity::insert(sighting::ActiveModel {
            pnode_id: Set(node),
            seed_base_url: Set(url.into()),
            first_seen_at: Set(ago(first)),
            last_seen_at: Set(ago(last)),
        })
        .exec_without_returning(&conn)
        .await
        .expect("a sighting");
    }
    observation::Entity::insert(observation::ActiveModel {
        pnode_id: Set(2),
        seed_base_url: Set(secret.into()),
        address: Set("127.0.0.1:9001".into()),
        observed_at: Set(now),
        ..Default::default()
    })
    .exec_without_returning(&conn)
    .await
    .expect("an observation");
    // A run whose seeds differed by user info only: one row per (run, seed) once stripped.
    for statement in [
        "INSERT INTO ingestion_runs (id, started_at, finished_at, attempted, success, backoff, failed, observed) VALUES (7, '2025-12-06 21:49:13+00', '2025-12-06 21:49:13+00', 0, 0, 0, 0, 0)",
        "INSERT INTO ingestion_run_seed_stats (ingestion_run_id, seed_base_url, attempted, success, backoff, failed, observed) VALUES (7, 'http://bob:hunter2@127.0.0.1:6000', 0, 0, 0, 0, 1)",
        "INSERT INTO ingestion_run_seed_stats (ingestion_run_id, seed_base_url, attempted, success, backoff, failed, observed) VALUES (7, 'http://127.0.0.1:6000', 0, 0, 0, 0, 2)",
    ] {
        use sea_orm::ConnectionTrait as _;
        conn.execute_unprepared(statement)
            .await
            .unwrap_or_else(|err| panic!("{statement}: {err}"));
    }
    snapshot::Entity::insert(snapshot::ActiveModel {
        pod_pubkey: Set("node1".into()),
        credits: Set(5),
        source_url: Set("https://carol:pw@podcredits.example/api/pods-credits".into()),
        observed_at: Set(now),
        ..Default::default()
    })
    .exec_without_returning(&conn)
    .await
    .expect("a snapshot");

    // The rest of the migrations too (the entities read back know every column).
    migration::with_default_network(Some("mainnet".into()), Migrator::up(&conn, None))
        .await
        .expect("up");

    let sightings = sighting::Entity::find()
        .order_by_asc(sighting::Column::PnodeId)
        .all(&conn)
        .await
        .expect("sightings");
    let seen: Vec<_> = sightings
        .iter()
        .map(|s| {
            (
                s.pnode_id,
                s.seed_base_url.as_str(),
                s.first_seen_at,
                s.last_seen_at,
            )
        })
        .collect();
    assert_eq!(
        seen,
        [(1, plain, ago(300), ago(50)), (2, plain, ago(90), ago(10))]
    );
    let observed = observation::Entity::find()
        .all(&conn)
        .await
        .expect("observations");
    assert_eq!(observed[0].seed_base_url, plain);
    let seed_stats = crate::collecting::scalar(
        &conn,
        "SELECT COUNT(*) AS n FROM ingestion_run_seed_stats WHERE seed_base_url = 'http://127.0.0.1:6000' AND observed = 2",
    )
    .await;
    let all_stats =
        crate::collecting::scalar(&conn, "SELECT COUNT(*) AS n FROM ingestion_run_seed_stats")
            .await;
    assert_eq!(
        (seed_stats, all_stats),
        (1, 1),
        "the run keeps the row without user info"
    );
    let snapshots = snapshot::Entity::find()
        .all(&conn)
        .await
        .expect("snapshots");
    assert_eq!(
        snapshots[0].source_url,
        "https://podcredits.example/api/pods-credits"
    );

    // Down (past networks, then past the credentials) keeps the URLs as they are now; up again
    // is a no-op for them.
    Migrator::down(&conn, Some(2)).await.expect("down");
    migration::with_default_network(Some("mainnet".into()), Migrator::up(&conn, None))
        .await
        .expect("up again");
    assert_eq!(
        sighting::Entity::find()
            .all(&conn)
            .await
            .expect("sightings")
            .len(),
        2
    );
}

/// Migration 10 puts every row stored before networks on the network the operator names (and
/// refuses to guess when it holds nodes and none is named); the same pubkey may then be a node on
/// two networks, and a node keeps its id and its history (SQLite rebuilds `pnodes`). `down`
/// refuses while a pubkey is on two networks, and then makes pubkeys unique again.
async fn nodes_from_before_networks_go_to_the_network_the_operator_names(backend: Backend) {
    use entity::{
        event, ingestion_run as run, pnode, pnode_gossip_observation as observation,
        pnode_stats_sample as sample, pod_credits_snapshot as snapshot,
    };
    use sea_orm::{EntityTrait, PaginatorTrait, Set};

    let db = TestDb::create(&backend).await;
    let conn = db.connect().await;
    Migrator::up(&conn, Some(9)).await.expect("up to the ninth");
    let now = chrono::DateTime::from_timestamp(1_765_057_753, 0).expect("a time");
    let key = "7T4zPNNDAT7rwkQ6Rf2QyMvLwowQ4KDSxKRXF9qEtYvR";
    let node = |id: i64, network: Option<&str>| pnode::ActiveModel {
        id: Set(id),
        network: network.map_or(sea_orm::ActiveValue::NotSet, |n| Set(n.to_owned())),
        pubkey: Set(key.to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
        reachable: Set(true),
        failure_count: Set(0),
        ..Default::default()
    };
    pnode::Entity::insert(node(1, None))
        .exec_without_returning(&conn)
        .await
        .expect("a node");
    observation::Entity::insert(observation::ActiveModel {
        pnode_id: Set(1),
        seed_base_url: Set("http://127.0.0.1:6000".into()),
        address: Set("127.0.0.1:9001".into()),
        observed_at: Set(now),
        ..Default::default()
    })
    .exec_without_returning(&conn)
    .await
    .expect("an observation");
    sample::Entity::insert(sample::ActiveModel {
        pnode_id: Set(1),
        sampled_at: Set(now),
        uptime_seconds: Set(Some(5)),
        ..Default::default()
    })
    .exec_without_returning(&conn)
    .await
    .expect("a sample");
    run::Entity::insert(run::ActiveModel {
        started_at: Set(now),
        finished_at: Set(Some(now)),
        attempted: Set(0),
        success: Set(0),
        backoff: Set(0),
        failed: Set(0),
        observed: Set(1),
        ..Default::default()
    })
    .exec_without_returning(&conn)
    .await
    .expect("a run");
    snapshot::Entity::insert(snapshot::ActiveModel {
        pod_pubkey: Set(key.into()),
        credits: Set(5),
        source_url: Set("http://127.0.0.1:8000/api/pods-credits".into()),
        observed_at: Set(now),
        ..Default::default()
    })
    .exec_without_returning(&conn)
    .await
    .expect("a snapshot");
    event::Entity::insert(event::ActiveModel {
        kind: Set("cycle".into()),
        at: Set(now),
        payload: Set("{}".into()),
        ..Default::default()
    })
    .exec_without_returning(&conn)
    .await
    .expect("an event");

    let refused = Migrator::up(&conn, None)
        .await
        .expect_err("no network named");
    assert!(
        refused.to_string().contains("PNODE_DEFAULT_NETWORK"),
        "{refused}"
    );
    assert_eq!(
        Migrator::get_pending_migrations(&conn)
            .await
            .expect("status")
            .len(),
        1,
        "nothing of it was applied"
    );

    migration::with_default_network(Some("devnet".into()), Migrator::up(&conn, None))
        .await
        .expect("up, on devnet");
    let migrated = pnode::Entity::find_by_id(1)
        .one(&conn)
        .await
        .expect("query")
        .expect("the node keeps its id");
    assert_eq!(
        (migrated.network.as_str(), migrated.pubkey.as_str()),
        ("devnet", key)
    );
    let history = (
        observation::Entity::find()
            .count(&conn)
            .await
            .expect("count"),
        sample::Entity::find().count(&conn).await.expect("count"),
    );
    assert_eq!(history, (1, 1), "the node's history stays with it");
    let runs = run::Entity::find().all(&conn).await.expect("runs");
    let snapshots = snapshot::Entity::find()
        .all(&conn)
        .await
        .expect("snapshots");
    let events = event::Entity::find().all(&conn).await.expect("events");
    assert!(runs.iter().all(|row| row.network == "devnet"), "{runs:?}");
    assert!(
        snapshots.iter().all(|row| row.network == "devnet"),
        "{snapshots:?}"
    );
    assert!(
        events.iter().all(|row| row.network == "devnet"),
        "{events:?}"
    );

    pnode::Entity::insert(node(2, Some("mainnet")))
        .exec_without_returning(&conn)
        .await
        .expect("the same pubkey on another network is another node");
    pnode::Entity::insert(node(3, Some("devnet")))
        .exec_without_returning(&conn)
        .await
        .expect_err("one node per (network, pubkey)");

    let refused = Migrator::down(&conn, Some(1)).await.expect_err("shared");
    assert!(refused.to_string().contains("two networks"), "{refused}");
    pnode::Entity::delete_by_id(2)
        .exec(&conn)
        .await
        .expect("delete the mainnet node");
    Migrator::down(&conn, Some(1)).await.expect("down");
    let raw =
        |sql: &str| sea_orm::Statement::from_string(conn.get_database_backend(), sql.to_owned());
    use sea_orm::ConnectionTrait as _;
    conn.execute_raw(raw(&format!(
        "INSERT INTO pnodes (id, pubkey, created_at, updated_at, reachable, failure_count) \
         VALUES (4, '{key}', '2025-12-06 21:49:13+00', '2025-12-06 21:49:13+00', false, 0)"
    )))
    .await
    .expect_err("pubkeys are unique again");
    assert_eq!(
        observation::Entity::find()
            .count(&conn)
            .await
            .expect("count"),
        1,
        "going down keeps the history too"
    );
    migration::with_default_network(Some("devnet".into()), Migrator::up(&conn, None))
        .await
        .expect("up again");
    conn.close().await.expect("close");
}
