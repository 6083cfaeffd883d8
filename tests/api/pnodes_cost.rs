//! What a view request costs when it is not cached (counted by SeaORM's metric callback): a page
//! the same statements whatever the node count, the full view two per chunk after the selection,
//! and a full view larger than one chunk arrives whole. (The cached path: `view_cache.rs`.)

use pnode_api::view::CHUNK;
use pnode_tools::generate::{Spec, generate};

use crate::{
    fixtures::now,
    helpers::{Backend, TestApp, spawn_app_with},
};

on_both_backends!(
    a_page_costs_the_same_statements_for_10_and_1000_nodes,
    a_network_larger_than_a_chunk_streams_whole_at_two_statements_a_chunk,
);

fn spec(nodes: u32, random_seed: u64) -> Spec {
    Spec {
        nodes,
        observations_per_node: 3,
        samples_per_node: 2,
        seeds: 3,
        random_seed,
    }
}

/// The app with its view cache off: every answer read from the database.
async fn uncached(backend: &Backend) -> TestApp {
    spawn_app_with(backend, |settings| settings.http.view_cache_mb = 0).await
}

async fn statements_for(app: &TestApp, path: &str) -> (u64, serde_json::Value) {
    let before = app.statements();
    let body = app.get_json(path).await;
    (app.statements() - before, body)
}

const PAGES: [&str; 4] = [
    "/api/pnodes?limit=100",
    "/api/pnodes?limit=100&sort=lastSeen&order=desc&public=true",
    "/api/pnodes?limit=100&sort=version&q=1",
    "/api/pnodes?limit=100&offset=5&seed=http://127.0.1.2:6000&sort=activeStreams",
];

async fn a_page_costs_the_same_statements_for_10_and_1000_nodes(backend: Backend) {
    let app = uncached(&backend).await;
    let conn = app.db.connect().await;
    generate(&conn, spec(10, 1), now()).await.expect("10 nodes");
    let mut small = Vec::new();
    for path in PAGES {
        small.push(statements_for(&app, path).await.0);
    }

    generate(&conn, spec(990, 2), now())
        .await
        .expect("990 more nodes");
    for (path, small) in PAGES.iter().zip(small) {
        let (large, body) = statements_for(&app, path).await;
        assert_eq!(large, small, "{path}: statements for 1,000 nodes vs 10");
        assert!(
            body["pagination"]["total"].as_u64().expect("total") > 0,
            "{path} selects nodes"
        );
    }
    assert_eq!(
        statements_for(&app, PAGES[0]).await.0,
        5,
        "the data version, seeds, select, details, sightings"
    );
}

async fn a_network_larger_than_a_chunk_streams_whole_at_two_statements_a_chunk(backend: Backend) {
    let nodes = CHUNK * 2 + 100;
    let app = uncached(&backend).await;
    let conn = app.db.connect().await;
    generate(&conn, spec(u32::try_from(nodes).expect("fits"), 3), now())
        .await
        .expect("generate");

    let (statements, body) = statements_for(&app, "/api/pnodes").await;

    let shown = body["globalPnodes"].as_array().expect("globalPnodes");
    assert_eq!(shown.len(), nodes);
    let ids: Vec<i64> = shown
        .iter()
        .map(|n| n["id"].as_i64().expect("id"))
        .collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "in id order, none repeated"
    );
    for node in shown {
        let seen = node["seedBaseUrlsSeen"].as_array().expect("seeds seen");
        assert!(!seen.is_empty(), "{node}");
        assert_eq!(node["seedsSeenCount"], seen.len());
        assert!(
            node["latestStats"].is_object() && node["latestVersion"].is_string(),
            "{node}"
        );
    }
    let chunks = nodes.div_ceil(CHUNK) as u64;
    assert_eq!(
        statements,
        3 + 2 * chunks,
        "the data version, seeds, select, then two a chunk"
    );
}
