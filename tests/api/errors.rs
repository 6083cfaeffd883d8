//! Every error is JSON `{"error", "code"}`, whatever produced it.

use crate::helpers::{Backend, spawn_app};

on_both_backends!(
    unknown_routes_answer_json_404,
    a_known_path_with_the_wrong_method_answers_json_405_with_allow,
);

async fn unknown_routes_answer_json_404(backend: Backend) {
    let app = spawn_app(&backend).await;

    for path in ["/", "/api", "/api/nope", "/api/health/extra"] {
        let response = app.get(path).await;

        assert_eq!(response.status(), 404, "{path}");
        let body: serde_json::Value = response.json().await.expect("a JSON body");
        assert_eq!(body["code"], "not_found", "{path}");
        assert!(
            body["error"].as_str().is_some_and(|e| e.contains(path)),
            "the message names the path: {body}"
        );
    }
}

async fn a_known_path_with_the_wrong_method_answers_json_405_with_allow(backend: Backend) {
    let app = spawn_app(&backend).await;

    for (method, path) in [
        (reqwest::Method::POST, "/api/health"),
        (reqwest::Method::DELETE, "/api/ready"),
        (reqwest::Method::PUT, "/api/health"),
    ] {
        let response = app
            .client
            .request(method.clone(), app.url(path))
            .send()
            .await
            .expect("request");

        assert_eq!(response.status(), 405, "{method} {path}");
        assert_eq!(
            response.headers().get("allow").map(|v| v.as_bytes()),
            Some(&b"GET, HEAD"[..]),
            "{method} {path}"
        );
        let body: serde_json::Value = response.json().await.expect("a JSON body");
        assert_eq!(body["code"], "method_not_allowed");
    }
}
