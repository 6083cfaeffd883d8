//! What changed, as events: a cycle closed, a node appeared, disappeared (not observed for
//! `PNODE_NODE_GONE_AFTER`), changed reachability, version or address, credits refreshed.
//!
//! The collecting replica writes each event to the `events` table in a transaction with what it
//! reports: a cycle's node changes and the cycle itself with the cycle's close (node changes are
//! found then, from the rows written during the cycle), credits with the credits they store. So
//! an event is committed exactly when its figures are, its id orders it, and every replica reads
//! the same events with the same ids ([`hub`] polls the table and streams them; a client
//! reconnecting with `Last-Event-ID` is replayed from it). Node changes are found when a cycle
//! closes, by comparing each node's row with what was last announced of it (the `announced_*`
//! columns of `pnodes`): one statement finds the rows that differ, whatever the history's depth.

pub mod hub;

use chrono::{DateTime, Duration, Utc};
use entity::{event, pnode};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
    sea_query::{Expr, ExprTrait, Func},
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{db::ROWS_PER_STATEMENT, domain::timestamp};

/// What happened, with its figures: the `data` of a server-sent event (with `id` and `at`) and
/// the body of a webhook call. `kind` names it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind")]
pub enum Change {
    /// A collection cycle closed.
    #[serde(rename = "cycle", rename_all = "camelCase")]
    Cycle {
        run_id: i64,
        #[serde(serialize_with = "timestamp::serialize")]
        #[schema(value_type = String, format = DateTime)]
        started_at: DateTime<Utc>,
        #[serde(serialize_with = "timestamp::serialize")]
        #[schema(value_type = String, format = DateTime)]
        finished_at: DateTime<Utc>,
        /// get-stats calls made, answered, failed; nodes left alone in backoff.
        attempted: i64,
        success: i64,
        failed: i64,
        backoff: i64,
        /// Distinct nodes the seeds reported.
        observed: i64,
        /// Nodes whose last get-stats call succeeded, at the close.
        reachable: i64,
        /// Nodes reported public.
        public: i64,
        /// The data version after the cycle: what `ETag`s now carry.
        data_version: i64,
        /// Node events the close announced (they come just before this one).
        node_events: i64,
    },
    /// A node was seen for the first time, or again after it had disappeared (`again`).
    #[serde(rename = "node.appeared", rename_all = "camelCase")]
    NodeAppeared {
        pubkey: String,
        #[schema(required = true)]
        address: Option<String>,
        #[schema(required = true)]
        version: Option<String>,
        reachable: bool,
        again: bool,
    },
    /// No seed has reported the node for `PNODE_NODE_GONE_AFTER`.
    #[serde(rename = "node.disappeared", rename_all = "camelCase")]
    NodeDisappeared {
        pubkey: String,
        /// When a seed last reported it; null when retention has deleted that.
        #[serde(serialize_with = "timestamp::serialize_option")]
        #[schema(value_type = Option<String>, format = DateTime, required = true)]
        last_observed_at: Option<DateTime<Utc>>,
    },
    /// The node's get-stats calls started or stopped succeeding.
    #[serde(rename = "node.reachability", rename_all = "camelCase")]
    NodeReachability { pubkey: String, reachable: bool },
    /// Gossip reports another version.
    #[serde(rename = "node.version", rename_all = "camelCase")]
    NodeVersion {
        pubkey: String,
        version: String,
        #[schema(required = true)]
        was: Option<String>,
    },
    /// Gossip reports another address.
    #[serde(rename = "node.address", rename_all = "camelCase")]
    NodeAddress {
        pubkey: String,
        address: String,
        #[schema(required = true)]
        was: Option<String>,
    },
    /// A credits refresh changed something.
    #[serde(rename = "credits", rename_all = "camelCase")]
    Credits {
        /// Pods in the answer.
        received: i64,
        /// Snapshots stored.
        snapshots: i64,
        /// Nodes whose credits changed.
        nodes_updated: i64,
    },
}

/// Every kind of event, as `event:` names it (and `reset`, which is never stored).
pub const KINDS: [&str; 7] = [
    "cycle",
    "node.appeared",
    "node.disappeared",
    "node.reachability",
    "node.version",
    "node.address",
    "credits",
];

impl Change {
    /// Its `kind`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Cycle { .. } => KINDS[0],
            Self::NodeAppeared { .. } => KINDS[1],
            Self::NodeDisappeared { .. } => KINDS[2],
            Self::NodeReachability { .. } => KINDS[3],
            Self::NodeVersion { .. } => KINDS[4],
            Self::NodeAddress { .. } => KINDS[5],
            Self::Credits { .. } => KINDS[6],
        }
    }

    /// The node it is about, if any.
    pub fn pubkey(&self) -> Option<&str> {
        match self {
            Self::NodeAppeared { pubkey, .. }
            | Self::NodeDisappeared { pubkey, .. }
            | Self::NodeReachability { pubkey, .. }
            | Self::NodeVersion { pubkey, .. }
            | Self::NodeAddress { pubkey, .. } => Some(pubkey),
            Self::Cycle { .. } | Self::Credits { .. } => None,
        }
    }
}

/// A stored event: what a stream sends and a webhook posts.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// Grows with every event, on every replica alike.
    pub id: i64,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub at: DateTime<Utc>,
    /// The network whose cycle, node or credits it is about.
    #[schema(example = "mainnet")]
    pub network: String,
    #[serde(flatten)]
    pub change: Change,
}

impl Event {
    /// The event a row holds; `None` for a payload this build cannot read (logged).
    pub fn from_row(row: event::Model) -> Option<Self> {
        match serde_json::from_str(&row.payload) {
            Ok(change) => Some(Self {
                id: row.id,
                at: row.at,
                network: row.network,
                change,
            }),
            Err(err) => {
                tracing::warn!(id = row.id, kind = row.kind, error = %err, "an event this build cannot read; skipped");
                None
            }
        }
    }
}

/// Stores `changes` of `network` at `now`, in order, in `db`'s transaction; returns them with
/// their ids.
pub async fn record(
    db: &impl ConnectionTrait,
    network: &str,
    changes: Vec<Change>,
    now: DateTime<Utc>,
) -> Result<Vec<Event>, DbErr> {
    let mut stored = Vec::with_capacity(changes.len());
    for chunk in changes.chunks(ROWS_PER_STATEMENT) {
        let rows = chunk.iter().map(|change| event::ActiveModel {
            network: Set(network.to_owned()),
            kind: Set(change.kind().to_owned()),
            at: Set(now),
            // A `Change` always encodes.
            payload: Set(serde_json::to_string(change).unwrap_or_default()),
            ..Default::default()
        });
        let mut rows = event::Entity::insert_many(rows)
            .exec_with_returning(db)
            .await?;
        rows.sort_by_key(|row| row.id);
        stored.extend(rows.into_iter().filter_map(Event::from_row));
    }
    Ok(stored)
}

/// The changes of `network`'s nodes since each was last announced, as of a cycle closing at `now`
/// (nodes not observed since `now - gone_after` are gone); marks them announced. One statement,
/// plus one per 1,000 changed nodes.
pub async fn announce_nodes(
    db: &impl ConnectionTrait,
    network: &str,
    now: DateTime<Utc>,
    gone_after: Duration,
) -> Result<Vec<Change>, DbErr> {
    use pnode::Column as P;
    let cutoff = now - gone_after;
    let gone = || {
        Condition::any()
            .add(P::GossipObservedAt.is_null())
            .add(P::GossipObservedAt.lt(cutoff))
    };
    let changed = pnode::Entity::find()
        .filter(P::Network.eq(network))
        .filter(unannounced(cutoff))
        .order_by_asc(P::Id)
        .all(db)
        .await?;

    let mut changes = Vec::new();
    for node in &changed {
        changes.extend(node_changes(node, cutoff));
    }
    let ids: Vec<i64> = changed.iter().map(|node| node.id).collect();
    for chunk in ids.chunks(ROWS_PER_STATEMENT) {
        let gone_now = Expr::case(gone(), true).finally(false);
        pnode::Entity::update_many()
            .col_expr(P::AnnouncedAt, Expr::value(now))
            .col_expr(P::AnnouncedReachable, Expr::col(P::Reachable))
            .col_expr(
                P::AnnouncedVersion,
                Func::coalesce([Expr::col(P::GossipVersion), Expr::col(P::AnnouncedVersion)])
                    .into(),
            )
            .col_expr(
                P::AnnouncedAddress,
                Func::coalesce([Expr::col(P::GossipAddress), Expr::col(P::AnnouncedAddress)])
                    .into(),
            )
            .col_expr(P::AnnouncedGone, gone_now.into())
            .filter(P::Id.is_in(chunk.iter().copied()))
            .exec(db)
            .await?;
    }
    Ok(changes)
}

/// The rows whose state differs from what was last announced of them, as of `cutoff` (nodes not
/// observed since are gone).
fn unannounced(cutoff: DateTime<Utc>) -> Condition {
    use pnode::Column as P;
    let gone = || {
        Condition::any()
            .add(P::GossipObservedAt.is_null())
            .add(P::GossipObservedAt.lt(cutoff))
    };
    let differs = |now: P, announced: P| {
        Condition::all().add(now.is_not_null()).add(
            Condition::any()
                .add(announced.is_null())
                .add(Expr::col(now).ne(Expr::col(announced))),
        )
    };
    Condition::any()
        .add(P::AnnouncedAt.is_null())
        .add(Expr::col(P::Reachable).ne(Expr::col(P::AnnouncedReachable)))
        .add(P::AnnouncedReachable.is_null())
        // Unknown since the upgrade: recorded, not announced.
        .add(P::AnnouncedGone.is_null())
        .add(differs(P::GossipVersion, P::AnnouncedVersion))
        .add(differs(P::GossipAddress, P::AnnouncedAddress))
        .add(
            Condition::all()
                .add(
                    Condition::any()
                        .add(P::AnnouncedGone.is_null())
                        .add(P::AnnouncedGone.eq(false)),
                )
                .add(gone()),
        )
        .add(
            Condition::all()
                .add(P::AnnouncedGone.eq(true))
                .add(P::GossipObservedAt.gte(cutoff)),
        )
}

/// What changed of `node` since it was last announced.
fn node_changes(node: &pnode::Model, cutoff: DateTime<Utc>) -> Vec<Change> {
    let pubkey = || node.pubkey.clone();
    let gone_now = node.gossip_observed_at.is_none_or(|at| at < cutoff);
    let was_gone = node.announced_gone == Some(true);
    // Announced, but whether it was gone is unknown (it has been since the events migration):
    // coming or going is not news; the rest is compared as usual.
    let known = node.announced_at.is_none() || node.announced_gone.is_some();
    if known && (node.announced_at.is_none() || (was_gone && !gone_now)) {
        if gone_now {
            // Never announced and already gone: nothing worth saying.
            return Vec::new();
        }
        return vec![Change::NodeAppeared {
            pubkey: pubkey(),
            address: node.gossip_address.clone(),
            version: node.gossip_version.clone(),
            reachable: node.reachable,
            again: node.announced_at.is_some(),
        }];
    }
    if gone_now {
        return if was_gone || !known {
            Vec::new()
        } else {
            vec![Change::NodeDisappeared {
                pubkey: pubkey(),
                last_observed_at: node.gossip_observed_at,
            }]
        };
    }
    let mut changes = Vec::new();
    if node.announced_reachable != Some(node.reachable) {
        changes.push(Change::NodeReachability {
            pubkey: pubkey(),
            reachable: node.reachable,
        });
    }
    if let Some(version) = &node.gossip_version
        && node.announced_version.as_ref() != Some(version)
    {
        changes.push(Change::NodeVersion {
            pubkey: pubkey(),
            version: version.clone(),
            was: node.announced_version.clone(),
        });
    }
    if let Some(address) = &node.gossip_address
        && node.announced_address.as_ref() != Some(address)
    {
        changes.push(Change::NodeAddress {
            pubkey: pubkey(),
            address: address.clone(),
            was: node.announced_address.clone(),
        });
    }
    changes
}

/// The rows of the events after `after`, oldest first, at most `limit` (one statement).
pub async fn rows_after(
    db: &impl ConnectionTrait,
    after: i64,
    limit: u64,
) -> Result<Vec<event::Model>, DbErr> {
    event::Entity::find()
        .filter(event::Column::Id.gt(after))
        .order_by_asc(event::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// The newest event's id (0 before the first) and the oldest one kept (one statement).
pub async fn bounds(db: &impl ConnectionTrait) -> Result<(i64, Option<i64>), DbErr> {
    let row: Option<(Option<i64>, Option<i64>)> = event::Entity::find()
        .select_only()
        .column_as(Expr::col(event::Column::Id).max(), "newest")
        .column_as(Expr::col(event::Column::Id).min(), "oldest")
        .into_tuple()
        .one(db)
        .await?;
    let (newest, oldest) = row.unwrap_or_default();
    Ok((newest.unwrap_or(0), oldest))
}
