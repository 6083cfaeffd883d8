//! `openapi.yaml` is what the code generates, and what the service serves.

use std::path::PathBuf;

use crate::helpers::{Backend, spawn_app};

on_both_backends!(the_service_serves_its_document_and_swagger_ui);

fn committed_spec() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../openapi.yaml")
}

/// Fails when `openapi.yaml` differs from what the routes generate; `UPDATE_OPENAPI=1` rewrites it.
#[test]
fn committed_openapi_yaml_is_what_the_code_generates() {
    let generated = pnode_api::web::openapi::document_yaml().expect("yaml");
    let path = committed_spec();
    if std::env::var("UPDATE_OPENAPI").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &generated).expect("write openapi.yaml");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi.yaml is stale: run `UPDATE_OPENAPI=1 cargo test -p pnode-api-tests openapi` and commit it"
    );
}

async fn the_service_serves_its_document_and_swagger_ui(backend: Backend) {
    let app = spawn_app(&backend).await;

    let served: serde_json::Value = app
        .get("/api/openapi.json")
        .await
        .json()
        .await
        .expect("json");
    let generated = serde_json::to_value(pnode_api::web::openapi::document()).expect("value");
    assert_eq!(served, generated);
    assert_eq!(served["openapi"], "3.1.0");
    for path in ["/api/health", "/api/ready"] {
        assert!(
            served["paths"][path]["get"].is_object(),
            "{path} is documented"
        );
    }

    let docs = app.get("/docs").await;
    assert_eq!(docs.status(), 200, "/docs redirects to the UI");
    let html = docs.text().await.expect("html");
    assert!(
        html.contains("swagger"),
        "Swagger UI is served from vendored assets"
    );
}
