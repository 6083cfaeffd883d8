//! Credits against the simulated network and a real database: what is fetched, what is stored,
//! and what a bad answer leaves behind (nothing).

mod db;
mod fetching;
mod refreshing;
mod storing;

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use entity::{pnode, pod_credits_snapshot as snapshot};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder,
};

use test_support::Backend;

use pnode_api::collector::credits::*;
use pnode_tools::sim::{SimConfig, SimNetwork};

use self::db::TestDb;

const SOURCE: &str = "http://127.0.0.1:1/api/pods-credits";

fn client() -> reqwest::Client {
    // Loopback only: a proxy from the environment must not see the test's requests.
    crate::helpers::http().no_proxy().build().expect("client")
}

fn policy() -> CreditsPolicy {
    CreditsPolicy {
        snapshot_every: std::time::Duration::from_secs(24 * 3600),
        timeout: std::time::Duration::from_secs(2),
        max_answer_bytes: 1024 * 1024,
        retries: 0,
        retry_wait: std::time::Duration::from_millis(10),
        auth: None,
    }
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("a date")
}

/// What the source says right now, read without the code under test.
async fn truth(client: &reqwest::Client, url: &str) -> HashMap<String, i64> {
    let answer: serde_json::Value = client
        .get(url)
        .send()
        .await
        .expect("credits")
        .json()
        .await
        .expect("json");
    answer["pods_credits"]
        .as_array()
        .expect("pods_credits")
        .iter()
        .map(|e| {
            let key = e["pod_id"].as_str().expect("pod_id").to_owned();
            (key, e["credits"].as_i64().expect("credits"))
        })
        .collect()
}

async fn insert_nodes(db: &DatabaseConnection, pubkeys: &[String]) {
    for chunk in pubkeys.chunks(pnode_api::db::ROWS_PER_STATEMENT) {
        let rows = chunk.iter().map(|key| pnode::ActiveModel {
            pubkey: Set(key.clone()),
            created_at: Set(t0()),
            updated_at: Set(t0()),
            reachable: Set(false),
            failure_count: Set(0),
            ..Default::default()
        });
        pnode::Entity::insert_many(rows)
            .exec_without_returning(db)
            .await
            .expect("insert nodes");
    }
}

async fn node(db: &DatabaseConnection, pubkey: &str) -> pnode::Model {
    pnode::Entity::find()
        .filter(pnode::Column::Pubkey.eq(pubkey))
        .one(db)
        .await
        .expect("select")
        .expect("node")
}

async fn all_nodes(db: &DatabaseConnection) -> Vec<pnode::Model> {
    let nodes = pnode::Entity::find().order_by_asc(pnode::Column::Id);
    nodes.all(db).await.expect("nodes")
}

async fn snapshot_count(db: &DatabaseConnection) -> u64 {
    snapshot::Entity::find().count(db).await.expect("count")
}
