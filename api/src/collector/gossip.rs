//! One seed's answer, recorded: nodes upserted by pubkey, one observation per (seed, node), the
//! seed mapping kept current. One transaction per answer, multi-row statements throughout.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{pnode, pnode_gossip_observation as observation, pnode_seed_sighting as sighting};
use sea_orm::{
    ActiveValue::Set,
    ConnectionTrait, DbErr, EntityTrait, TransactionSession, TransactionTrait,
    sea_query::{Condition, Expr, ExprTrait, Func, OnConflict, SimpleExpr},
};

use crate::{
    db::{ROWS_PER_STATEMENT, version},
    domain::pubkey,
    net::prpc::{Pod, PodsAnswer},
};

/// The longest version kept: real ones are under 40 bytes
/// (`0.8.0-trynet.20251212183600.9eea72e`); a longer one makes the pod a bad pod.
pub(crate) const MAX_VERSION_BYTES: usize = 128;

/// The longest gossip address kept (an IPv6 address with a port is under 50 bytes; a host name
/// at most 253): a longer one makes the pod a bad pod.
pub(crate) const MAX_ADDRESS_BYTES: usize = 260;

/// The pods of one answer worth recording, one per pubkey.
#[derive(Debug, Default)]
pub(super) struct Selected {
    pub pods: Vec<(String, Pod)>,
    /// Bad pods: without a pubkey, with one that is not base58 of 32 bytes, with text that
    /// holds control characters (PostgreSQL refuses NUL) or is longer than its bound, or
    /// malformed.
    pub skipped: usize,
}

/// Keeps the pods with a valid pubkey and text fit to store; a pubkey reported at several
/// addresses (NAT, restarts) keeps the entry seen most recently.
pub(super) fn select(answer: PodsAnswer) -> Selected {
    let mut skipped = answer.malformed;
    let mut by_pubkey: HashMap<String, Pod> = HashMap::new();
    for pod in answer.pods {
        let pubkey = pod.pubkey.clone().filter(|key| pubkey::is_valid(key));
        let Some(pubkey) = pubkey.filter(|_| text_fits(&pod)) else {
            skipped += 1;
            continue;
        };
        match by_pubkey.get(&pubkey) {
            Some(kept) if kept.last_seen_timestamp >= pod.last_seen_timestamp => {}
            _ => {
                by_pubkey.insert(pubkey, pod);
            }
        }
    }
    let mut pods: Vec<_> = by_pubkey.into_iter().collect();
    pods.sort_by(|a, b| a.0.cmp(&b.0));
    Selected { pods, skipped }
}

/// Whether the pod's text can be stored and shown as reported: no control character (NUL, which
/// PostgreSQL refuses, and the rest, which would reach logs, CSV and terminals), within bounds.
fn text_fits(pod: &Pod) -> bool {
    let clean = |text: &str, max: usize| text.len() <= max && !text.chars().any(char::is_control);
    clean(&pod.address, MAX_ADDRESS_BYTES)
        && pod
            .version
            .as_deref()
            .is_none_or(|version| clean(version, MAX_VERSION_BYTES))
}

/// Writes what `seed` (one of `network`'s) reported at `now`, all or nothing. Returns the id of
/// each node.
pub(super) async fn record<C>(
    db: &C,
    network: &str,
    seed: &str,
    pods: &[(String, Pod)],
    now: DateTime<Utc>,
) -> Result<HashMap<String, i64>, DbErr>
where
    C: ConnectionTrait + TransactionTrait,
{
    let txn = db.begin().await?;
    let ids = upsert_nodes(&txn, network, pods, now).await?;
    record_sightings(&txn, seed, pods, &ids, now).await?;
    version::bump(&txn, now).await?;
    txn.commit().await?;
    Ok(ids)
}

/// Inserts the nodes of `network` not known yet and puts each node's newest gossip figures on its
/// row. Returns the id of each.
async fn upsert_nodes(
    txn: &impl ConnectionTrait,
    network: &str,
    pods: &[(String, Pod)],
    now: DateTime<Utc>,
) -> Result<HashMap<String, i64>, DbErr> {
    let mut ids = HashMap::with_capacity(pods.len());
    for chunk in pods.chunks(ROWS_PER_STATEMENT) {
        // The node's gossip figures go on its row from the freshest report (see `fresher`).
        let nodes = chunk.iter().map(|(pubkey, pod)| pnode::ActiveModel {
            network: Set(network.to_owned()),
            pubkey: Set(pubkey.clone()),
            created_at: Set(now),
            updated_at: Set(now),
            reachable: Set(false),
            failure_count: Set(0),
            gossip_observed_at: Set(Some(now)),
            gossip_version: Set(pod.version.clone()),
            gossip_is_public: Set(pod.is_public),
            gossip_storage_committed: Set(storage(pod.storage_committed)),
            gossip_storage_used: Set(storage(pod.storage_used)),
            gossip_address: Set(Some(pod.address.clone())),
            gossip_last_seen: Set(pod.last_seen_timestamp),
            ..Default::default()
        });
        let mut on_conflict = OnConflict::columns([pnode::Column::Network, pnode::Column::Pubkey]);
        on_conflict.update_column(pnode::Column::UpdatedAt);
        for column in COPIES {
            on_conflict.value(column, copied_if_fresher(column));
        }
        // A known node "conflicts" and is updated, so RETURNING gives every node's id.
        let upserted = pnode::Entity::insert_many(nodes)
            .on_conflict(on_conflict.to_owned())
            .exec_with_returning(txn)
            .await?;
        ids.extend(upserted.into_iter().map(|node| (node.pubkey, node.id)));
    }
    Ok(ids)
}

/// The columns of a node's row that copy its freshest gossip report.
const COPIES: [pnode::Column; 7] = [
    pnode::Column::GossipObservedAt,
    pnode::Column::GossipVersion,
    pnode::Column::GossipIsPublic,
    pnode::Column::GossipStorageCommitted,
    pnode::Column::GossipStorageUsed,
    pnode::Column::GossipAddress,
    pnode::Column::GossipLastSeen,
];

/// The new report's `column` where it is fresher than the one the row copies, else the row's
/// (every expression of an `UPDATE` reads the row as it was, so their order does not matter).
fn copied_if_fresher(column: pnode::Column) -> SimpleExpr {
    Expr::case(fresher(), Expr::col((Excluded, column)))
        .finally(Expr::col((pnode::Entity, column)))
        .into()
}

/// Whether the report being written is fresher than the one the row copies: from a later cycle
/// (its observation time), or from the same cycle with a higher `last_seen_timestamp` (none is
/// lowest). Seeds' answers are written in their configured order, so on a tie the seed listed
/// first keeps the row: two seeds that disagree give one value, cycle after cycle. The view's
/// newest observation follows the same rule (`view::sql`).
fn fresher() -> Condition {
    let row = |column: pnode::Column| Expr::col((pnode::Entity, column));
    let new = |column: pnode::Column| Expr::col((Excluded, column));
    let seen = |expr: Expr| Func::coalesce([expr, Expr::val(-1_i64)]);
    Condition::any()
        .add(row(pnode::Column::GossipObservedAt).is_null())
        .add(new(pnode::Column::GossipObservedAt).gt(row(pnode::Column::GossipObservedAt)))
        .add(
            Condition::all()
                .add(new(pnode::Column::GossipObservedAt).eq(row(pnode::Column::GossipObservedAt)))
                .add(
                    Expr::expr(seen(new(pnode::Column::GossipLastSeen)))
                        .gt(seen(row(pnode::Column::GossipLastSeen))),
                ),
        )
}

/// `excluded`: the row an upsert would have inserted (both backends name it so).
#[derive(Debug, Clone, Copy)]
struct Excluded;

impl sea_orm::sea_query::Iden for Excluded {
    fn unquoted(&self) -> &str {
        "excluded"
    }
}

/// One observation per node, and the seed mapping kept current.
async fn record_sightings(
    txn: &impl ConnectionTrait,
    seed: &str,
    pods: &[(String, Pod)],
    ids: &HashMap<String, i64>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let known = |pubkey: &str| ids.get(pubkey).copied();
    for chunk in pods.chunks(ROWS_PER_STATEMENT) {
        let rows: Vec<_> = chunk
            .iter()
            .filter_map(|(pubkey, pod)| Some(observation_row(known(pubkey)?, seed, pod, now)))
            .collect();
        observation::Entity::insert_many(rows)
            .exec_without_returning(txn)
            .await?;

        let sightings = chunk.iter().filter_map(|(pubkey, _)| {
            Some(sighting::ActiveModel {
                pnode_id: Set(known(pubkey)?),
                seed_base_url: Set(seed.to_owned()),
                first_seen_at: Set(now),
                last_seen_at: Set(now),
            })
        });
        sighting::Entity::insert_many(sightings)
            .on_conflict(
                OnConflict::columns([sighting::Column::PnodeId, sighting::Column::SeedBaseUrl])
                    .update_column(sighting::Column::LastSeenAt)
                    .to_owned(),
            )
            .exec_without_returning(txn)
            .await?;
    }
    Ok(())
}

/// A byte count as stored: one past i64::MAX is left out rather than wrapped.
fn storage(bytes: Option<u64>) -> Option<i64> {
    bytes.and_then(|v| i64::try_from(v).ok())
}

fn observation_row(
    pnode_id: i64,
    seed: &str,
    pod: &Pod,
    now: DateTime<Utc>,
) -> observation::ActiveModel {
    observation::ActiveModel {
        pnode_id: Set(pnode_id),
        seed_base_url: Set(seed.to_owned()),
        address: Set(pod.address.clone()),
        version: Set(pod.version.clone()),
        last_seen_timestamp: Set(pod.last_seen_timestamp),
        observed_at: Set(now),
        is_public: Set(pod.is_public),
        rpc_port: Set(pod.rpc_port.map(i32::from)),
        storage_committed: Set(storage(pod.storage_committed)),
        storage_used: Set(storage(pod.storage_used)),
        storage_usage_percent: Set(pod.storage_usage_percent),
        uptime_seconds: Set(pod.uptime.and_then(|v| i64::try_from(v).ok())),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::prpc::PodsMethod;

    fn pod(address: &str, pubkey: Option<&str>, last_seen: i64) -> Pod {
        Pod {
            address: address.to_owned(),
            pubkey: pubkey.map(str::to_owned),
            version: None,
            last_seen_timestamp: Some(last_seen),
            is_public: None,
            rpc_port: None,
            storage_committed: None,
            storage_used: None,
            storage_usage_percent: None,
            uptime: None,
        }
    }

    const KEY: &str = "7T4zPNNDAT7rwkQ6Rf2QyMvLwowQ4KDSxKRXF9qEtYvR";

    #[test]
    fn one_pod_per_pubkey_the_newest_wins_and_the_rest_are_counted() {
        let answer = PodsAnswer {
            pods: vec![
                pod("10.0.0.1:9001", Some(KEY), 100),
                pod("10.0.0.2:9001", Some(KEY), 200),
                pod("10.0.0.3:9001", None, 300),
                pod("10.0.0.4:9001", Some("TestPubkey14"), 300),
            ],
            total_count: Some(4),
            method: PodsMethod::WithStats,
            malformed: 1,
        };
        let selected = select(answer);
        assert_eq!(selected.skipped, 3);
        assert_eq!(selected.pods.len(), 1);
        assert_eq!(selected.pods[0].1.address, "10.0.0.2:9001");
    }

    #[test]
    fn text_with_control_characters_or_past_its_bound_makes_a_bad_pod() {
        let with = |address: &str, version: Option<&str>| Pod {
            version: version.map(str::to_owned),
            ..pod(address, Some(KEY), 1)
        };
        let long_version = "1".repeat(MAX_VERSION_BYTES + 1);
        let long_address = format!("{}:9001", "a".repeat(MAX_ADDRESS_BYTES));
        for bad in [
            with("10.0.0.1:9001", Some("0.8.0\u{0}")),
            with("10.0.0.1\u{0}:9001", None),
            with("10.0.0.1:9001\n", None),
            with("10.0.0.1:9001", Some("0.8\u{1b}[31m")),
            with("10.0.0.1:9001", Some("0.8\u{85}")),
            with("10.0.0.1:9001", Some(&long_version)),
            with(&long_address, None),
        ] {
            assert!(!text_fits(&bad), "{bad:?}");
        }
        assert!(text_fits(&with(
            "[2001:db8::1]:9001",
            Some("0.8.0-trynet.20251212183600.9eea72e")
        )));
        assert!(text_fits(&with(
            "10.0.0.1:9001",
            Some(&"1".repeat(MAX_VERSION_BYTES))
        )));
    }
}
