//! The binary's command line, as an operator meets it. (Also makes `cargo test --workspace` build
//! the binary, which the workspace's integration tests drive.)

#![allow(clippy::expect_used, clippy::unwrap_used)] // A test that cannot proceed should panic.
use std::process::Command;

use migration::MigratorTrait;

fn pnode_api() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pnode-api"));
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    command
}

#[test]
fn help_documents_every_setting_with_its_environment_variable() {
    let output = pnode_api().args(["serve", "--help"]).output().expect("run");
    let help = String::from_utf8(output.stdout).expect("utf-8");

    assert!(output.status.success());
    for variable in [
        "DATABASE_URL",
        "PNODE_BIND",
        "PNODE_WORKERS",
        "PNODE_DB_MAX_CONNECTIONS",
        "PNODE_DB_ACQUIRE_TIMEOUT",
        "PNODE_SHUTDOWN_TIMEOUT",
        "RUST_LOG",
        "PNODE_LOG_FORMAT",
    ] {
        assert!(
            help.contains(&format!("[env: {variable}")),
            "{variable} missing from:\n{help}"
        );
    }
}

#[test]
fn migrate_status_lists_every_migration_as_pending_on_a_new_database() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("p.db").display());

    let output = pnode_api()
        .args(["migrate", "status"])
        .env("DATABASE_URL", &url)
        .output()
        .expect("run");

    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let listed = String::from_utf8(output.stdout).expect("utf-8");
    let pending: Vec<_> = listed
        .lines()
        .filter(|l| l.starts_with("Pending"))
        .collect();
    assert_eq!(
        pending.len(),
        migration::Migrator::migrations().len(),
        "{listed}"
    );
}

#[test]
fn generate_fills_a_database_with_the_network_asked_for() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("g.db").display());

    let output = pnode_api()
        .args(["generate", "--nodes", "20", "--observations-per-node", "3"])
        .args([
            "--samples-per-node",
            "2",
            "--seeds",
            "2",
            "--random-seed",
            "9",
        ])
        .env("DATABASE_URL", &url)
        .env("PNODE_SEEDS", "http://127.0.0.1:6000")
        .output()
        .expect("run");

    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed = String::from_utf8(output.stdout).expect("utf-8");
    assert!(
        printed.contains("generated 20 nodes, 60 observations, 40 stats samples"),
        "{printed}"
    );
}

#[test]
fn a_bad_setting_fails_before_anything_starts_and_names_it() {
    for (variable, value, named) in [
        ("PNODE_LOG_FORMAT", "xml", "--log-format"),
        ("PNODE_BIND", "localhost", "--bind"),
        (
            "PNODE_SEEDS",
            "192.190.136.36:6000",
            "not a base URL like http://host:6000",
        ),
        (
            "PNODE_SEEDS",
            "http://127.0.0.1:6000,http://127.0.0.1:6000",
            "listed twice",
        ),
        ("PNODE_SHUTDOWN_TIMEOUT", "soon", "--shutdown-timeout"),
    ] {
        let output = pnode_api()
            .args(["serve"])
            .env(variable, value)
            .output()
            .expect("run");

        assert!(!output.status.success(), "{variable}={value} was accepted");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(named), "{variable}={value}: {stderr}");
    }
}

/// A server on 127.0.0.1 that answers every request 500, on a thread of its own; its base URL.
fn failing_server() -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(&stream);
            // A GET ends with its headers: read up to the blank line, then answer and close.
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                line.clear();
            }
            let _ = (&stream).write_all(
                b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            );
        }
    });
    url
}

#[test]
fn soak_against_a_failing_server_prints_its_report_and_exits_non_zero() {
    let url = failing_server();

    let output = pnode_api()
        .args([
            "soak",
            "--url",
            &url,
            "--requests",
            "5",
            "--concurrency",
            "2",
        ])
        .output()
        .expect("run");

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("soak failed: errors: 5 of 5 requests and 3 memory samples failed"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "one line of reason: {stderr}");
    assert!(stdout.contains("answered 500"), "{stdout}");
}

#[test]
fn soak_refuses_a_url_or_path_that_could_lead_elsewhere() {
    for (args, named) in [
        (
            ["--url", "ftp://x", "--path", "/api/pnodes"],
            "not an http:// URL",
        ),
        (["--url", "127.0.0.1:8080", "--path", "/"], "--url"),
        (
            ["--url", "http://127.0.0.1:9", "--path", "nope"],
            "must start with /",
        ),
    ] {
        let output = pnode_api().arg("soak").args(args).output().expect("run");

        assert!(!output.status.success(), "{args:?} was accepted");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(named), "{args:?}: {stderr}");
    }
}
