//! Refreshes against the simulated source: what each one stores, and what a bad answer leaves
//! behind (nothing).

use super::*;

on_both_backends!(
    refreshes_store_what_changed_and_what_grew_old,
    a_garbage_answer_changes_nothing,
);

async fn refreshes_store_what_changed_and_what_grew_old(backend: Backend) {
    let test = TestDb::open(&backend).await;
    let sim = SimNetwork::start(SimConfig::default()).await.expect("sim");
    let (client, url, policy, db) = (client(), sim.credits_url(), policy(), test.db.conn());
    let pods: Vec<String> = sim.pods().into_iter().map(|pod| pod.pubkey).collect();
    // Every other pod is known from gossip; the rest have credits before gossip saw them.
    let known: Vec<String> = pods.iter().step_by(2).cloned().collect();
    insert_nodes(db, &known).await;
    let before = truth(&client, &url).await;

    let report = refresh(db, &client, "mainnet", &url, &policy, t0())
        .await
        .expect("first");
    let expected = CreditsReport {
        received: pods.len(),
        skipped: 0,
        snapshots: pods.len(),
        nodes_updated: known.len(),
        events: report.events.clone(),
    };
    assert_eq!(report, expected);
    // One `credits` event, with the same figures.
    let changes: Vec<_> = report.events.iter().map(|e| e.change.clone()).collect();
    assert_eq!(
        changes,
        [pnode_api::push::events::Change::Credits {
            received: pods.len() as i64,
            snapshots: pods.len() as i64,
            nodes_updated: known.len() as i64,
        }]
    );
    assert_eq!(snapshot_count(db).await, pods.len() as u64);
    for key in &known {
        let node = node(db, key).await;
        assert_eq!(node.latest_credits, Some(before[key]));
        assert_eq!(node.credits_updated_at, Some(t0()));
    }
    let stored = snapshot::Entity::find().all(db).await.expect("snapshots");
    assert!(stored.iter().all(|s| s.source_url == url
        && s.observed_at == t0()
        && s.credits == before[&s.pod_pubkey]));

    let later = t0() + TimeDelta::hours(1);
    let report = refresh(db, &client, "mainnet", &url, &policy, later)
        .await
        .expect("same");
    assert_eq!(
        (report.snapshots, report.nodes_updated),
        (0, 0),
        "nothing changed"
    );
    assert_eq!(snapshot_count(db).await, pods.len() as u64);

    sim.tick();
    let after = truth(&client, &url).await;
    let changed: Vec<&String> = pods.iter().filter(|k| after[*k] != before[*k]).collect();
    let changed_known = known.iter().filter(|k| changed.contains(k)).count();
    assert!(
        changed_known > 0 && changed.len() < pods.len(),
        "{changed:?}"
    );
    let t2 = t0() + TimeDelta::hours(2);
    let report = refresh(db, &client, "mainnet", &url, &policy, t2)
        .await
        .expect("changed");
    assert_eq!(report.snapshots, changed.len());
    assert_eq!(report.nodes_updated, changed_known);
    for key in &known {
        let node = node(db, key).await;
        assert_eq!(node.latest_credits, Some(after[key]));
        let when = if changed.contains(&key) { t2 } else { t0() };
        assert_eq!(node.credits_updated_at, Some(when), "{key}");
    }

    // A day after the newest snapshot, every pod is stored again though nothing changed.
    let next_day = t2 + TimeDelta::hours(24);
    let report = refresh(db, &client, "mainnet", &url, &policy, next_day)
        .await
        .expect("old");
    assert_eq!((report.snapshots, report.nodes_updated), (pods.len(), 0));
    let total = 2 * pods.len() + changed.len();
    assert_eq!(snapshot_count(db).await, total as u64);
    sim.stop().await;
}

async fn a_garbage_answer_changes_nothing(backend: Backend) {
    let test = TestDb::open(&backend).await;
    let sim = SimNetwork::start(SimConfig::default()).await.expect("sim");
    let (client, url, policy, db) = (client(), sim.credits_url(), policy(), test.db.conn());
    let pods: Vec<String> = sim.pods().into_iter().map(|pod| pod.pubkey).collect();
    insert_nodes(db, &pods[..5]).await;
    refresh(db, &client, "mainnet", &url, &policy, t0())
        .await
        .expect("first");
    let (nodes, snapshots) = (all_nodes(db).await, snapshot_count(db).await);

    sim.tick();
    sim.set_credits_fault(true);
    let much_later = t0() + TimeDelta::days(3);
    let err = refresh(db, &client, "mainnet", &url, &policy, much_later)
        .await
        .expect_err("garbage");
    assert!(matches!(err.kind(), "not_json" | "shape"), "{err}");
    assert_eq!(all_nodes(db).await, nodes);
    assert_eq!(snapshot_count(db).await, snapshots);

    sim.set_credits_fault(false);
    let report = refresh(db, &client, "mainnet", &url, &policy, much_later)
        .await
        .expect("healed");
    assert_eq!(report.snapshots, pods.len());
    sim.stop().await;
}
