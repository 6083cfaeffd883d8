//! Storing answers built by hand: batching, resets, duplicates.

use super::*;

on_both_backends!(
    thousands_of_pods_cost_a_few_statements_and_resets_are_recorded,
    a_pod_listed_twice_keeps_its_first_value,
);

async fn thousands_of_pods_cost_a_few_statements_and_resets_are_recorded(backend: Backend) {
    let test = TestDb::open(&backend).await;
    let db = test.db.conn();
    let keys: Vec<String> = (0..2500).map(|i| format!("pod-{i:05}")).collect();
    insert_nodes(db, &keys[..1200]).await;
    let at = |credits: fn(i64) -> i64| -> Vec<Credit> {
        (0..)
            .zip(&keys)
            .map(|(i, key)| Credit {
                pubkey: key.clone(),
                credits: credits(i),
            })
            .collect()
    };

    let statements = test.db.statements_executed();
    let report = store(db, "mainnet", SOURCE, &at(|i| i + 10), &policy(), t0())
        .await
        .expect("store");
    let used = test.db.statements_executed() - statements;
    let expected = CreditsReport {
        received: 2500,
        skipped: 0,
        snapshots: 2500,
        nodes_updated: 1200,
        events: Vec::new(),
    };
    assert_eq!(
        CreditsReport {
            events: Vec::new(),
            ..report.clone()
        },
        expected
    );
    assert_eq!(report.events.len(), 1, "one credits event");
    // 3 reads of snapshots, 3 inserts, 3 reads of nodes, 2 updates, the event, the data
    // version and the transaction.
    assert!(
        (12..=15).contains(&used),
        "{used} statements for 2,500 pods"
    );

    // The source resets everyone to 3: lower values are changes too.
    let reset = t0() + TimeDelta::minutes(5);
    let report = store(db, "mainnet", SOURCE, &at(|_| 3), &policy(), reset)
        .await
        .expect("reset");
    assert_eq!(
        CreditsReport {
            events: Vec::new(),
            ..report
        },
        expected
    );
    let node = node(db, &keys[1199]).await;
    assert_eq!(
        (node.latest_credits, node.credits_updated_at),
        (Some(3), Some(reset))
    );
    assert_eq!(snapshot_count(db).await, 5000);
}

async fn a_pod_listed_twice_keeps_its_first_value(backend: Backend) {
    let test = TestDb::open(&backend).await;
    let db = test.db.conn();
    let credit = |credits| Credit {
        pubkey: "pod".into(),
        credits,
    };
    let report = store(
        db,
        "mainnet",
        SOURCE,
        &[credit(1), credit(2)],
        &policy(),
        t0(),
    )
    .await
    .expect("store");
    assert_eq!(
        (report.received, report.skipped, report.snapshots),
        (1, 1, 1)
    );
    let stored = snapshot::Entity::find().all(db).await.expect("snapshots");
    assert_eq!(stored.iter().map(|s| s.credits).collect::<Vec<_>>(), [1]);
}
