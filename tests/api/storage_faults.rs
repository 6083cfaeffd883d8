//! Storage faults under a running collector, on SQLite files (PostgreSQL's storage is its
//! server's): a full disk fails cycles loudly and readiness with the reason, and writes resume by
//! themselves when space returns (no lock left behind); a database file deleted under the process
//! fails the cycle instead of writing into the unlinked file; a start on a read-only file system
//! fails naming the file and why.

use std::{io::Write, path::Path, process::Command, sync::Arc, time::Duration};

use pnode_api::db::Database;
use pnode_tools::sim::{SimConfig, SimNetwork};
use sea_orm::sqlx::{ConnectOptions as _, Connection as _, Executor as _, sqlite};

use crate::{
    binary::binary,
    collecting::{fast_settings, migrated},
    helpers::{TestApp, TestDb, Tmpfs, cycles, spawn_app_on, wait_until},
};

/// `/api/ready`'s status and message.
async fn readiness(app: &TestApp) -> (u16, String) {
    let response = app.get("/api/ready").await;
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.expect("JSON");
    (
        status,
        body["error"].as_str().unwrap_or_default().to_owned(),
    )
}

async fn collecting_app(db: &Arc<TestDb>, sim: &SimNetwork) -> TestApp {
    let seeds = sim.seed_urls().join(",");
    spawn_app_on(db, |settings| {
        settings.seeds = seeds.parse().expect("seeds");
        settings.collector = fast_settings();
    })
    .await
}

/// Fills the file system holding `dir` with a file there, leaving `room` bytes free: the
/// collector's next writes fit, and then one fails part-way, as on a disk that fills up.
fn fill(dir: &Path, room: u64) -> std::path::PathBuf {
    let filler = dir.join("filler");
    let mut file = std::fs::File::create(&filler).expect("create the filler");
    let chunk = vec![0xA5; 64 * 1024];
    while file.write_all(&chunk).is_ok() {}
    let _ = file.flush();
    let full = file.metadata().expect("metadata").len();
    file.set_len(full.saturating_sub(room)).expect("make room");
    filler
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_fails_cycles_loudly_and_writes_resume_when_space_returns() {
    let Some(tmpfs) = Tmpfs::mount("16m") else {
        return;
    };
    let sim = SimNetwork::start(SimConfig::default()).await.expect("sim");
    let db = Arc::new(TestDb::sqlite_in(tmpfs.path()));
    let app = collecting_app(&db, &sim).await;
    wait_until("a first cycle", || async {
        cycles(&app, "finished").await >= 1.0
    })
    .await;
    assert_eq!(readiness(&app).await.0, 200);

    // Disks fill at any point of a write: a statement or a commit. Each round leaves a different
    // room, so the failing write is cut at a different place.
    for room in [512 * 1024, 200 * 1024, 96 * 1024, 32 * 1024] {
        let failed = cycles(&app, "failed").await;
        let filler = fill(tmpfs.path(), room);
        wait_until("a cycle fails on the full disk", || async {
            cycles(&app, "failed").await > failed
        })
        .await;
        wait_until("readiness says the disk is full", || async {
            let (status, why) = readiness(&app).await;
            status == 503 && why.contains("full")
        })
        .await;
        let (_, why) = readiness(&app).await;
        assert!(why.contains("cannot write"), "{why}");
        assert_eq!(
            app.get("/api/pnodes?limit=5").await.status(),
            200,
            "reads go on"
        );

        // Space returns: the next cycles go through, with no restart and no lock left behind.
        std::fs::remove_file(&filler).expect("remove the filler");
        let finished = cycles(&app, "finished").await;
        wait_until("a cycle finishes after space returns", || async {
            cycles(&app, "finished").await > finished
        })
        .await;
        wait_until("readiness recovers", || async {
            readiness(&app).await.0 == 200
        })
        .await;
    }
    let status = app.get_json("/api/ingestion-status").await;
    assert!(status["lastRunFinishedAt"].is_string(), "{status}");

    let file = db.sqlite_file().expect("a SQLite file");
    let mut outside = sqlite::SqliteConnectOptions::new()
        .filename(&file)
        .busy_timeout(Duration::from_secs(5))
        .connect()
        .await
        .expect("an outside connection");
    outside
        .execute("BEGIN IMMEDIATE")
        .await
        .expect("another process can take the write lock");
    outside.execute("ROLLBACK").await.expect("rollback");
    // The runs of the failed cycles are gone (at most the cycle running now is unfinished): none
    // shows as running until it goes stale.
    let unfinished: i64 = sea_orm::sqlx::query_scalar(
        "SELECT COUNT(*) FROM ingestion_runs WHERE finished_at IS NULL",
    )
    .fetch_one(&mut outside)
    .await
    .expect("count");
    assert!(unfinished <= 1, "{unfinished} runs left unfinished");
    outside.close().await.expect("close");
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_file_deleted_under_the_collector_fails_its_cycles_and_readiness() {
    let sim = SimNetwork::start(SimConfig::default()).await.expect("sim");
    let db = Arc::new(TestDb::create(&crate::helpers::Backend::Sqlite).await);
    let app = collecting_app(&db, &sim).await;
    wait_until("a first cycle", || async {
        cycles(&app, "finished").await >= 1.0
    })
    .await;

    let file = db.sqlite_file().expect("a SQLite file");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }
    let failed = cycles(&app, "failed").await;
    wait_until("a cycle fails", || async {
        cycles(&app, "failed").await > failed
    })
    .await;
    let (status, why) = readiness(&app).await;
    assert_eq!(status, 503);
    assert!(why.contains("is gone"), "{why}");
    assert!(why.contains(&file.display().to_string()), "{why}");
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_on_a_read_only_file_system_fails_naming_the_file_and_why() {
    let Some(tmpfs) = Tmpfs::mount("8m") else {
        return;
    };
    let db = TestDb::sqlite_in(tmpfs.path());
    migrated(&db.url).await.close().await.expect("close");
    tmpfs.remount("ro");

    let output = Command::new(binary())
        .arg("serve")
        .env("DATABASE_URL", &db.url)
        .env("PNODE_BIND", "127.0.0.1:0")
        .output()
        .expect("run pnode-api");
    let file = db.sqlite_file().expect("a SQLite file");
    let settings = pnode_api::db::settings::DatabaseSettings::for_url(&db.url);
    let refused = Database::connect(&settings)
        .await
        .err()
        .map(|err| err.to_string());
    tmpfs.remount("rw");

    assert!(!output.status.success(), "it must not start");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&file.display().to_string()), "{stderr}");
    assert!(stderr.contains("Read-only file system"), "{stderr}");
    assert!(
        stderr.contains("mode "),
        "the permissions it found: {stderr}"
    );

    // A pool opened in this process refuses with the same words, and opens once it may write.
    let refused = refused.expect("no pool on a read-only file system");
    assert!(refused.contains(&file.display().to_string()), "{refused}");
    assert!(refused.contains("Read-only file system"), "{refused}");
    Database::connect(&settings)
        .await
        .expect("writable again after the remount");
}
