use std::collections::HashSet;

use crate::helpers::{Backend, spawn_app};

on_both_backends!(
    health_answers_ok_with_the_version,
    every_response_carries_its_own_request_id
);

async fn health_answers_ok_with_the_version(backend: Backend) {
    let app = spawn_app(&backend).await;

    let response = app.get("/api/health").await;

    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(
        body,
        serde_json::json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")})
    );
}

async fn every_response_carries_its_own_request_id(backend: Backend) {
    let app = spawn_app(&backend).await;

    let mut ids = HashSet::new();
    for path in ["/api/health", "/api/health", "/api/ready", "/no/such/route"] {
        let response = app.get(path).await;
        let id = response
            .headers()
            .get("x-request-id")
            .unwrap_or_else(|| panic!("{path} answered without x-request-id"))
            .to_str()
            .expect("ascii id")
            .to_owned();
        assert!(!id.is_empty());
        assert!(ids.insert(id), "request ids repeat");
    }
}
