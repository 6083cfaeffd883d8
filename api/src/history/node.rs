//! One node's history in a window: its stats downsampled, the changes gossip reported, the
//! seeds that reported it and its credits. Five statements, each reading rows of the window only
//! (or of the node only, for its sightings).

use chrono::{DateTime, Utc};
use entity::{pnode_seed_sighting as sighting, pod_credits_snapshot as snapshot};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QueryResult,
    QuerySelect,
};

use super::{
    model::{CreditsPoint, GossipChange, NodeHistory, SeedSighting, StatsBucket, WindowBody},
    sql,
    window::Window,
};
use crate::view::{self, Resolved};

impl WindowBody {
    pub fn of(window: &Window) -> Self {
        Self {
            from: window.from,
            to: window.to,
            points: window.points,
            bucket_seconds: window.width_seconds(),
        }
    }
}

/// The history of the node with `pubkey` (on `network`, when named) in `window`.
pub async fn node_history(
    db: &impl ConnectionTrait,
    pubkey: &str,
    network: Option<&str>,
    window: &Window,
) -> Result<Resolved<NodeHistory>, DbErr> {
    let (id, network) = match view::id_of(db, pubkey, network).await? {
        Resolved::Node(node) => node,
        Resolved::Missing => return Ok(Resolved::Missing),
        Resolved::Ambiguous(networks) => return Ok(Resolved::Ambiguous(networks)),
    };
    let backend = db.get_database_backend();
    let stats = db
        .query_all_raw(sql::stats_buckets(backend, id, window))
        .await?
        .iter()
        .map(|row| stats_bucket(row, window))
        .collect::<Result<_, _>>()?;
    let gossip = db
        .query_all_raw(sql::gossip_changes(backend, id, window))
        .await?
        .iter()
        .map(gossip_change)
        .collect::<Result<_, _>>()?;
    let seeds = sighting::Entity::find()
        .filter(sighting::Column::PnodeId.eq(id))
        .order_by_asc(sighting::Column::SeedBaseUrl)
        .all(db)
        .await?
        .into_iter()
        .map(|row| SeedSighting {
            seed_base_url: row.seed_base_url,
            first_seen_at: row.first_seen_at,
            last_seen_at: row.last_seen_at,
        })
        .collect();
    let credits = snapshot::Entity::find()
        .select_only()
        .columns([snapshot::Column::ObservedAt, snapshot::Column::Credits])
        .filter(snapshot::Column::PodPubkey.eq(pubkey))
        .filter(snapshot::Column::Network.eq(network.as_str()))
        .filter(snapshot::Column::ObservedAt.gte(window.from))
        .filter(snapshot::Column::ObservedAt.lt(window.to))
        .order_by_asc(snapshot::Column::ObservedAt)
        .order_by_asc(snapshot::Column::Id)
        .into_tuple::<(DateTime<Utc>, i64)>()
        .all(db)
        .await?
        .into_iter()
        .map(|(observed_at, credits)| CreditsPoint {
            observed_at,
            credits,
        })
        .collect();
    Ok(Resolved::Node(NodeHistory {
        pubkey: pubkey.to_owned(),
        network,
        window: WindowBody::of(window),
        stats,
        gossip,
        seeds,
        credits,
    }))
}

fn stats_bucket(row: &QueryResult, window: &Window) -> Result<StatsBucket, DbErr> {
    let get_f64 = |name: &str| row.try_get::<Option<f64>>("", name);
    let get_i64 = |name: &str| row.try_get::<Option<i64>>("", name);
    Ok(StatsBucket {
        bucket_start: window.bucket_start(row.try_get("", sql::BUCKET)?),
        samples: row.try_get("", "samples")?,
        cpu_percent_avg: get_f64("cpu_avg")?,
        cpu_percent_max: get_f64("cpu_max")?,
        ram_used_bytes_avg: get_f64("ram_used_avg")?,
        ram_used_bytes_max: get_i64("ram_used_max")?,
        uptime_seconds_last: get_i64("uptime_last")?,
        packets_in_per_sec_avg: get_f64("packets_in_avg")?,
        packets_out_per_sec_avg: get_f64("packets_out_avg")?,
        bytes_per_second_avg: get_f64("bytes_per_second_avg")?,
        active_streams_max: get_i64("active_streams_max")?,
    })
}

fn gossip_change(row: &QueryResult) -> Result<GossipChange, DbErr> {
    let address: String = row.try_get("", "address")?;
    let version: Option<String> = row.try_get("", "version")?;
    let is_public = row
        .try_get::<Option<bool>>("", "is_public")?
        .unwrap_or(false);
    let previous_address: Option<String> = row.try_get("", "previous_address")?;
    let previous_version: Option<String> = row.try_get("", "previous_version")?;
    let previous_public: Option<bool> = row.try_get("", "previous_is_public")?;
    let mut changed = Vec::new();
    // The window's first observation has nothing before it: it is the state, not a change.
    if let Some(previous_address) = previous_address {
        if previous_address != address {
            changed.push("address".to_owned());
        }
        if previous_version != version {
            changed.push("version".to_owned());
        }
        if previous_public.unwrap_or(false) != is_public {
            changed.push("isPublic".to_owned());
        }
    }
    Ok(GossipChange {
        first_seen_at: row.try_get("", "observed_at")?,
        address,
        version,
        is_public,
        changed,
    })
}
