//! Each request leaves one structured log line that carries the id the client was given.

use crate::{
    binary::Server,
    helpers::{Backend, TestDb},
};

on_both_backends!(each_request_is_logged_once_with_the_id_its_response_carries);

async fn each_request_is_logged_once_with_the_id_its_response_carries(backend: Backend) {
    let db = TestDb::create(&backend).await;
    let mut server = Server::start(&db.url);
    let addr = server.wait_until_listening();

    let response = reqwest::get(format!("http://{addr}/api/nowhere"))
        .await
        .expect("request");
    let id = response.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();

    let line = server.wait_for_line(|line| line["span"]["name"] == "HTTP request");
    let span = &line["span"];
    assert_eq!(span["request_id"], id.as_str());
    assert_eq!(span["http.method"], "GET");
    assert_eq!(span["http.target"], "/api/nowhere");
    assert_eq!(span["http.status_code"], 404);
    assert!(
        line["time.busy"].is_string(),
        "the line says how long it took: {line}"
    );
}
