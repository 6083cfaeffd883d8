//! Each request leaves one structured log line that carries the id the client was given; no
//! line, at any level, and no `--help` shows the database's password; colours only on a terminal.

use std::{process::Command, time::Duration};

use crate::{
    binary::{Server, binary},
    helpers::{Backend, TestDb},
};

on_both_backends!(each_request_is_logged_once_with_the_id_its_response_carries);

async fn each_request_is_logged_once_with_the_id_its_response_carries(backend: Backend) {
    let db = TestDb::create(&backend).await;
    let mut server = Server::start(&db.url);
    let addr = server.wait_until_listening();

    let response = crate::helpers::get(format!("http://{addr}/api/nowhere"))
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

/// PostgreSQL only: a SQLite URL has no password. The test server trusts local connections, so
/// any password logs in; SeaORM's trace span carries the whole URL, so a line with it redacted
/// must appear.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_password_is_in_no_log_line_at_any_level_nor_in_help() {
    const SECRET: &str = "hunter2-secret";
    let Some(backend) = Backend::postgres() else {
        return;
    };
    let db = TestDb::create(&backend).await;
    let url = db
        .url
        .replacen("postgres@", &format!("postgres:{SECRET}@"), 1);
    assert!(url.contains(SECRET), "{url}");

    let mut server =
        Server::start_with(&url, &[("RUST_LOG", "trace"), ("PNODE_LOG_FORMAT", "text")]);
    // Text lines come back as `{"message": line}`.
    let text: Vec<String> = server
        .lines_during(Duration::from_secs(3))
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        text.iter().any(|line| line.contains("listening")),
        "the server started: {text:?}"
    );
    assert!(
        text.iter().all(|line| !line.contains(SECRET)),
        "a line shows the password"
    );
    assert!(
        text.iter().any(|line| line.contains("postgres:***@")),
        "the URL is logged at trace level, redacted"
    );
    assert!(
        text.iter().all(|line| !line.contains('\u{1b}')),
        "no colour codes when the output is not a terminal"
    );

    let help = Command::new(binary())
        .arg("--help")
        .env("DATABASE_URL", &url)
        .output()
        .expect("run --help");
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("DATABASE_URL"), "{help}");
    assert!(!help.contains(SECRET), "{help}");
}
