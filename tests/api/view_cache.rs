//! The view as a dashboard backend: answers cached per data version and never stale, `ETag` and
//! `304`, compressed bodies that decode to the identity one, CORS for browsers on other origins,
//! single-flight computation, pages cut from the cache without a view statement, and the cache's
//! bound.

use std::{io::Read, time::Duration};

use pnode_api::{
    collector::{
        credits::{self, CreditsPolicy},
        retention,
        settings::RetentionSettings,
    },
    web::settings::CorsOrigins,
};
use pnode_tools::sim::SimConfig;
use reqwest::{Response, StatusCode, header};
use serde_json::{Value, json};

use crate::{
    collecting::Rig,
    fixtures::{insert, node, now, sighting},
    helpers::{Backend, TestApp, some_network, spawn_app, spawn_app_on, spawn_app_with},
    metrics::{scrape, value},
};

on_both_backends!(
    a_repeated_poll_gets_304_for_one_statement_and_a_write_a_new_body,
    a_replica_never_serves_an_answer_older_than_the_database,
    compressed_bodies_decode_to_the_identity_body_cached_or_not,
    twenty_concurrent_cold_requests_compute_the_view_once,
    a_warm_page_of_any_ordering_costs_no_view_statement,
    the_cache_never_holds_more_than_its_bound,
    a_network_larger_than_the_cache_is_served_uncached,
    browsers_on_other_origins_get_cors_headers_as_configured,
);

async fn get_with(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> Response {
    let mut request = app.client.get(app.url(path));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.expect("request")
}

/// Whether `Vary` names `Accept-Encoding` (with whatever else, e.g. CORS's `Origin`).
fn varies_by_encoding(response: &Response) -> bool {
    response
        .headers()
        .get_all(header::VARY)
        .iter()
        .flat_map(|value| value.to_str().unwrap_or_default().split(','))
        .any(|name| name.trim().eq_ignore_ascii_case("accept-encoding"))
}

fn etag(response: &Response) -> String {
    response.headers()[header::ETAG]
        .to_str()
        .expect("ascii")
        .to_owned()
}

async fn a_repeated_poll_gets_304_for_one_statement_and_a_write_a_new_body(backend: Backend) {
    let app = spawn_app(&backend).await;
    let conn = app.db.connect().await;
    let a = insert(&conn, node("A", now())).await;

    for (index, path) in [
        "/api/pnodes",
        "/api/pnodes?limit=10&sort=uptime",
        "/api/pnodes/A",
        "/api/ingestion-status",
    ]
    .into_iter()
    .enumerate()
    {
        let first = app.get(path).await;
        assert_eq!(first.status(), 200, "{path}");
        let tag = etag(&first);
        assert!(tag.starts_with('"'), "a strong validator: {tag}");
        assert_eq!(first.headers()[header::CACHE_CONTROL], "no-cache");
        assert!(varies_by_encoding(&first), "{path}");
        let body = first.text().await.expect("body");

        let before = app.statements();
        let again = get_with(&app, path, &[("if-none-match", &tag)]).await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{path}");
        assert_eq!(etag(&again), tag);
        assert_eq!(
            app.statements() - before,
            1,
            "{path}: the data version only"
        );
        assert!(again.bytes().await.expect("body").is_empty());

        // A write: the same validator now gets the new answer.
        let seed = format!("http://127.0.0.1:{}", 7000 + index);
        insert(&conn, sighting(a.id, &seed, now())).await;
        let after = get_with(&app, path, &[("if-none-match", &tag)]).await;
        assert_eq!(after.status(), 200, "{path}");
        assert_ne!(etag(&after), tag, "{path}");
        if path != "/api/ingestion-status" {
            let after = after.text().await.expect("body");
            assert_ne!(after, body, "{path}");
            assert!(after.contains(&seed), "{path} shows the write: {after}");
        }
    }
    let metrics = scrape(&app).await;
    assert_eq!(
        value(&metrics, "pnode_view_cache_not_modified_total", &[]),
        4.0
    );
}

async fn view(app: &TestApp) -> (String, Value) {
    let response = app.get("/api/pnodes").await;
    assert_eq!(response.status(), 200);
    let tag = etag(&response);
    (tag, response.json().await.expect("json"))
}

fn stats_time(body: &Value, pubkey: &str) -> Value {
    body["globalPnodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .find(|node| node["pubkey"] == pubkey)
        .map(|node| node["latestStats"]["timestamp"].clone())
        .unwrap_or(Value::Null)
}

/// A collector and a replica serving the view, each with its own pool, on one database (as two
/// processes would be). After each kind of write the replica's next answer shows it under a new
/// ETag.
async fn a_replica_never_serves_an_answer_older_than_the_database(backend: Backend) {
    let mut rig = Rig::start(&backend, SimConfig::default()).await;
    let replica = spawn_app_on(&rig.db, |settings| settings.run_collector = false).await;
    rig.cycle().await;
    let (first_tag, first) = view(&replica).await;
    assert_eq!(
        first["globalPnodes"].as_array().map(Vec::len),
        Some(rig.sim.pods().len())
    );

    rig.let_a_minute_pass().await;
    rig.cycle().await;
    let (after_cycle, body) = view(&replica).await;
    assert_ne!(after_cycle, first_tag, "a cycle is a new version");
    let public = &rig.sim.pods()[0].pubkey;
    assert_ne!(
        stats_time(&first, public),
        stats_time(&body, public),
        "the replica shows the cycle's new sample"
    );

    let client = crate::helpers::http().no_proxy().build().expect("client");
    let stored = credits::refresh(
        &rig.conn,
        &client,
        "mainnet",
        &rig.sim.credits_url(),
        &CreditsPolicy::default(),
        chrono::Utc::now(),
    )
    .await
    .expect("credits");
    assert!(stored.nodes_updated > 0);
    let (after_credits, body) = view(&replica).await;
    assert_ne!(after_credits, after_cycle, "credits are a new version");
    assert!(
        body["globalPnodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .all(|n| n["latestCredits"].is_i64()),
        "the replica shows the credits"
    );

    // Retention with no window for observations: every sighting goes.
    let nothing_kept = RetentionSettings {
        observations: Duration::ZERO,
        ..RetentionSettings::default()
    };
    retention::prune(&rig.conn, &nothing_kept, rig.clock.now(), 1000)
        .await
        .expect("prune");
    let (after_retention, body) = view(&replica).await;
    assert_ne!(
        after_retention, after_credits,
        "a retention pass is a new version"
    );
    assert!(
        body["globalPnodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .all(|n| n["seedBaseUrlsSeen"] == json!([])),
        "the replica shows what retention deleted"
    );
}

fn decode(encoding: &str, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match encoding {
        "deflate" => flate2::read::ZlibDecoder::new(body)
            .read_to_end(&mut out)
            .map(|_| ())
            .expect("inflate"),
        "gzip" => flate2::read::GzDecoder::new(body)
            .read_to_end(&mut out)
            .map(|_| ())
            .expect("gunzip"),
        "br" => brotli::Decompressor::new(body, 4096)
            .read_to_end(&mut out)
            .map(|_| ())
            .expect("unbrotli"),
        "zstd" => out = zstd::decode_all(body).expect("unzstd"),
        other => panic!("unexpected encoding {other}"),
    }
    out
}

async fn compressed_bodies_decode_to_the_identity_body_cached_or_not(backend: Backend) {
    // An hour-long clock interval: the two apps' validators of one question fall in the same one.
    let hourly = |settings: &mut pnode_api::app::config::Settings| {
        settings.collector.interval = Duration::from_secs(3600);
    };
    let cached = spawn_app_with(&backend, hourly).await;
    some_network(&cached, 600).await;
    let uncached = spawn_app_on(&cached.db, |settings| {
        hourly(settings);
        settings.http.view_cache_mb = 0;
        settings.run_collector = false;
    })
    .await;
    let pubkey = view(&cached).await.1["globalPnodes"][0]["pubkey"]
        .as_str()
        .expect("pubkey")
        .to_owned();
    for path in [
        "/api/pnodes".to_owned(),
        "/api/pnodes?sort=uptime&order=desc&public=true".to_owned(),
        "/api/pnodes?limit=50&offset=100&sort=credits".to_owned(),
        format!("/api/pnodes/{pubkey}"),
        "/api/ingestion-status".to_owned(),
    ] {
        let mut identities = Vec::new();
        for app in [&cached, &uncached] {
            let identity = app.get(&path).await;
            assert!(identity.headers().get(header::CONTENT_ENCODING).is_none());
            let tag = etag(&identity);
            let identity = identity.bytes().await.expect("body");
            identities.push((tag.trim_start_matches("W/").to_owned(), identity.clone()));
            for encoding in ["gzip", "br", "zstd", "deflate"] {
                let response = get_with(app, &path, &[("accept-encoding", encoding)]).await;
                assert_eq!(response.status(), 200);
                assert_eq!(
                    response.headers()[header::CONTENT_ENCODING],
                    encoding,
                    "{path}"
                );
                assert!(varies_by_encoding(&response), "{path}");
                let body = response.bytes().await.expect("body");
                assert_eq!(decode(encoding, &body), identity, "{path} in {encoding}");
                if path == "/api/pnodes" {
                    assert!(body.len() * 5 < identity.len(), "{encoding} compresses");
                }
            }
        }
        // The same bytes and the same validator (weak where the middleware compressed).
        assert_eq!(identities[0], identities[1], "{path}, cached and not");
    }
}

async fn twenty_concurrent_cold_requests_compute_the_view_once(backend: Backend) {
    let app = spawn_app(&backend).await;
    some_network(&app, 1_200).await;
    let path = "/api/pnodes?limit=50&sort=uptime&order=desc";

    let before = app.statements();
    let answers = futures_util::future::join_all(
        (0..20).map(|_| get_with(&app, path, &[("accept-encoding", "gzip")])),
    )
    .await;
    let statements = app.statements() - before;

    let mut bodies = Vec::new();
    for answer in answers {
        assert_eq!(answer.status(), 200);
        bodies.push(answer.bytes().await.expect("body"));
    }
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "one answer for all"
    );
    // Each request reads the data version (20); the node table is built once (its version,
    // the seeds, the ids, two statements for each of 3 chunks: 9) and the ordering once (1).
    assert_eq!(statements, 20 + 9 + 1);
    let metrics = scrape(&app).await;
    let misses = value(
        &metrics,
        "pnode_view_cache_requests_total",
        &[("result", "miss")],
    );
    assert_eq!(
        misses, 3.0,
        "the table, the ordering and the gzip body, once each"
    );
}

async fn a_warm_page_of_any_ordering_costs_no_view_statement(backend: Backend) {
    let app = spawn_app(&backend).await;
    some_network(&app, 700).await;
    let orderings = [
        "sort=id",
        "sort=uptime&order=desc",
        "sort=version&public=true",
        "sort=lastSeen&reachable=false",
        "sort=credits&seed=http://127.0.1.2:6000",
        "q=127&sort=activeStreams",
    ];
    for ordering in orderings {
        app.get_json(&format!("/api/pnodes?{ordering}&limit=50"))
            .await;
    }
    let scraped = scrape(&app).await;
    let view_statements = value(&scraped, "pnode_view_statements_sum", &[]);
    for ordering in orderings {
        for offset in [0, 50, 650, 5000] {
            let before = app.statements();
            let page = app
                .get_json(&format!("/api/pnodes?{ordering}&limit=50&offset={offset}"))
                .await;
            assert_eq!(
                app.statements() - before,
                1,
                "{ordering} at {offset}: the version"
            );
            assert_eq!(page["pagination"]["offset"], offset);
        }
    }
    let scraped = scrape(&app).await;
    assert_eq!(
        value(&scraped, "pnode_view_statements_sum", &[]),
        view_statements,
        "no view statement at all"
    );
}

async fn the_cache_never_holds_more_than_its_bound(backend: Backend) {
    // 4 MiB: the node table of 1,000 nodes (about 0.9 MB) and a few compressed full views.
    let app = spawn_app_with(&backend, |settings| settings.http.view_cache_mb = 4).await;
    some_network(&app, 1_000).await;
    for sort in [
        "id",
        "pubkey",
        "uptime",
        "credits",
        "lastSeen",
        "version",
        "activeStreams",
    ] {
        for order in ["asc", "desc"] {
            for encoding in ["gzip", "br", "zstd", "deflate"] {
                let path = format!("/api/pnodes?sort={sort}&order={order}");
                let response = get_with(&app, &path, &[("accept-encoding", encoding)]).await;
                assert_eq!(response.status(), 200, "{path}");
            }
        }
    }
    let metrics = scrape(&app).await;
    let held = value(&metrics, "pnode_view_cache_size_bytes", &[]);
    assert!(
        held > 0.0 && held <= 4.0 * 1024.0 * 1024.0,
        "{held} bytes held"
    );
    assert!(
        value(&metrics, "pnode_view_cache_evictions_total", &[]) > 0.0,
        "56 compressed views do not fit: the least recently used went"
    );
}

/// A network whose node table alone is larger than the cache is not cached at all (it would be
/// evicted as soon as built, and every request would rebuild it): answers come from the
/// database, at the uncached cost.
async fn a_network_larger_than_the_cache_is_served_uncached(backend: Backend) {
    // 1 MiB: less than the node table of 2,000 nodes (about 1.8 MB).
    let app = spawn_app_with(&backend, |settings| settings.http.view_cache_mb = 1).await;
    some_network(&app, 2_000).await;
    let full = app.get_json("/api/pnodes").await;
    assert_eq!(full["globalPnodes"].as_array().map(Vec::len), Some(2_000));
    for offset in [0, 100, 1_900] {
        let before = app.statements();
        let page = app
            .get_json(&format!(
                "/api/pnodes?limit=100&offset={offset}&sort=credits"
            ))
            .await;
        assert_eq!(page["pnodes"].as_array().map(Vec::len), Some(100));
        assert_eq!(
            app.statements() - before,
            5,
            "the version, seeds, ids, details, sightings: no table rebuilt"
        );
    }
    let metrics = scrape(&app).await;
    assert_eq!(value(&metrics, "pnode_view_cache_size_bytes", &[]), 0.0);
}

async fn browsers_on_other_origins_get_cors_headers_as_configured(backend: Backend) {
    let open = spawn_app(&backend).await;
    let listed = spawn_app_on(&open.db, |settings| {
        settings.run_collector = false;
        settings.http.cors_origins = CorsOrigins::Only(vec!["https://dash.example".into()]);
    })
    .await;
    let closed = spawn_app_on(&open.db, |settings| {
        settings.run_collector = false;
        settings.http.cors_origins = CorsOrigins::None;
    })
    .await;

    let preflight = |app: &TestApp, origin: &str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/api/pnodes?limit=5"))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "if-none-match")
            .send()
    };
    let allowed = |response: &Response| {
        response
            .headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .map(|v| v.to_str().expect("ascii").to_owned())
    };

    // Any origin, by default.
    let response = preflight(&open, "https://anyone.example")
        .await
        .expect("preflight");
    assert_eq!(response.status(), 200);
    assert_eq!(allowed(&response).as_deref(), Some("*"));
    let methods = response.headers()[header::ACCESS_CONTROL_ALLOW_METHODS]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(methods.contains("GET"), "{methods}");
    let simple = get_with(
        &open,
        "/api/pnodes?limit=5",
        &[("origin", "https://anyone.example")],
    )
    .await;
    assert_eq!(simple.status(), 200);
    assert_eq!(allowed(&simple).as_deref(), Some("*"));
    let exposed = simple.headers()[header::ACCESS_CONTROL_EXPOSE_HEADERS]
        .to_str()
        .expect("ascii")
        .to_ascii_lowercase();
    assert!(
        exposed.contains("etag") && exposed.contains("x-request-id"),
        "{exposed}"
    );

    // A list: its origins, and no one else.
    let response = preflight(&listed, "https://dash.example")
        .await
        .expect("preflight");
    assert_eq!(allowed(&response).as_deref(), Some("https://dash.example"));
    let simple = get_with(
        &listed,
        "/api/health",
        &[("origin", "https://dash.example")],
    )
    .await;
    assert_eq!(allowed(&simple).as_deref(), Some("https://dash.example"));
    let response = preflight(&listed, "https://evil.example")
        .await
        .expect("preflight");
    assert_eq!(
        allowed(&response),
        None,
        "a preflight from elsewhere is refused"
    );
    assert_eq!(response.status(), 400);
    let refusal: Value = response.json().await.expect("the refusal is JSON");
    assert_eq!(refusal["code"], "bad_request", "{refusal}");
    assert!(
        refusal["error"]
            .as_str()
            .is_some_and(|e| e.contains("not allowed")),
        "{refusal}"
    );
    let simple = get_with(
        &listed,
        "/api/health",
        &[("origin", "https://evil.example")],
    )
    .await;
    assert_eq!(allowed(&simple), None);
    assert_eq!(
        simple.status(),
        200,
        "answered: the browser, not the server, withholds it from the page"
    );

    // Off: no CORS headers at all.
    let simple = get_with(
        &closed,
        "/api/health",
        &[("origin", "https://dash.example")],
    )
    .await;
    assert_eq!(simple.status(), 200);
    assert_eq!(allowed(&simple), None);
}
