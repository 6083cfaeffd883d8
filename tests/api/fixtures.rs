//! Rows for view tests, written straight to the database: each builder fills what the schema
//! requires and leaves the rest to the test.

use chrono::{DateTime, Duration, Utc};
use entity::{
    pnode, pnode_gossip_observation as observation, pnode_seed_sighting as sighting,
    pnode_stats_sample as sample, pod_credits_snapshot as credits,
};
use pnode_api::db::version;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, DatabaseConnection, IntoActiveModel, TransactionTrait,
};

/// A fixed "now" for fixtures, to the millisecond (the precision the API shows).
pub fn now() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).expect("a valid time")
}

pub fn ago(now: DateTime<Utc>, seconds: i64) -> DateTime<Utc> {
    now - Duration::seconds(seconds)
}

pub fn node(pubkey: &str, now: DateTime<Utc>) -> pnode::ActiveModel {
    pnode::ActiveModel {
        network: Set("mainnet".to_owned()),
        pubkey: Set(pubkey.to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
        reachable: Set(false),
        failure_count: Set(0),
        ..Default::default()
    }
}

pub fn observation(
    pnode_id: i64,
    seed: &str,
    observed_at: DateTime<Utc>,
) -> observation::ActiveModel {
    observation::ActiveModel {
        pnode_id: Set(pnode_id),
        seed_base_url: Set(seed.to_owned()),
        address: Set("127.0.0.1:9001".to_owned()),
        observed_at: Set(observed_at),
        ..Default::default()
    }
}

pub fn sample(pnode_id: i64, sampled_at: DateTime<Utc>) -> sample::ActiveModel {
    sample::ActiveModel {
        pnode_id: Set(pnode_id),
        sampled_at: Set(sampled_at),
        ..Default::default()
    }
}

pub fn sighting(pnode_id: i64, seed: &str, at: DateTime<Utc>) -> sighting::ActiveModel {
    sighting::ActiveModel {
        pnode_id: Set(pnode_id),
        seed_base_url: Set(seed.to_owned()),
        first_seen_at: Set(at),
        last_seen_at: Set(at),
    }
}

pub fn credits(pubkey: &str, value: i64, observed_at: DateTime<Utc>) -> credits::ActiveModel {
    credits::ActiveModel {
        pod_pubkey: Set(pubkey.to_owned()),
        credits: Set(value),
        observed_at: Set(observed_at),
        source_url: Set("http://127.0.0.1:8000/api/pods-credits".to_owned()),
        ..Default::default()
    }
}

/// Inserts a row and returns it as stored. Like every writer of what the view shows, it bumps the
/// data version in the same transaction, so the app's cache sees the change.
pub async fn insert<A>(
    conn: &DatabaseConnection,
    model: A,
) -> <A::Entity as sea_orm::EntityTrait>::Model
where
    A: ActiveModelTrait + sea_orm::ActiveModelBehavior + Send,
    <A::Entity as sea_orm::EntityTrait>::Model: IntoActiveModel<A>,
{
    let txn = conn.begin().await.expect("begin");
    let row = model.insert(&txn).await.expect("insert a fixture row");
    version::bump(&txn, Utc::now())
        .await
        .expect("bump the data version");
    txn.commit().await.expect("commit");
    row
}
