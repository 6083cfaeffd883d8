//! What the history and network endpoints answer: camelCase, every key present, absent values
//! `null`, timestamps RFC 3339 UTC with milliseconds and a `Z`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::timestamp;

/// `GET /api/pnodes/{pubkey}/history`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeHistory {
    pub pubkey: String,
    /// The network the node is on.
    #[schema(example = "mainnet")]
    pub network: String,
    #[serde(flatten)]
    pub window: WindowBody,
    /// Stats samples by bucket, oldest first; a bucket without a sample is absent.
    pub stats: Vec<StatsBucket>,
    /// Each change of address, version or public flag in the window (the first observation
    /// of the window included), with when it was first seen, oldest first.
    pub gossip: Vec<GossipChange>,
    /// Each seed that has reported the node (within retention).
    pub seeds: Vec<SeedSighting>,
    /// Credits snapshots in the window, oldest first.
    pub credits: Vec<CreditsPoint>,
}

/// The window an answer covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WindowBody {
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub from: DateTime<Utc>,
    /// Excluded.
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub to: DateTime<Utc>,
    /// Most buckets asked for.
    pub points: u64,
    /// Width of each bucket; bucket `i` starts at `from` + `i` × this.
    pub bucket_seconds: i64,
}

/// A node's stats samples within one bucket.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "bucketStart": "2025-12-06T21:00:00.000Z", "samples": 6, "cpuPercentAvg": 6.6,
    "cpuPercentMax": 9.1, "ramUsedBytesAvg": 5399207936.0_f64, "ramUsedBytesMax": 5400000000_i64,
    "uptimeSecondsLast": 154484, "packetsInPerSecAvg": 2.5, "packetsOutPerSecAvg": 1.5,
    "bytesPerSecondAvg": 100.5, "activeStreamsMax": 2
}))]
pub struct StatsBucket {
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub bucket_start: DateTime<Utc>,
    /// Samples in the bucket (1 or more).
    pub samples: i64,
    #[schema(required = true)]
    pub cpu_percent_avg: Option<f64>,
    #[schema(required = true)]
    pub cpu_percent_max: Option<f64>,
    #[schema(required = true)]
    pub ram_used_bytes_avg: Option<f64>,
    #[schema(required = true)]
    pub ram_used_bytes_max: Option<i64>,
    /// The uptime the bucket's newest sample reported.
    #[schema(required = true)]
    pub uptime_seconds_last: Option<i64>,
    #[schema(required = true)]
    pub packets_in_per_sec_avg: Option<f64>,
    #[schema(required = true)]
    pub packets_out_per_sec_avg: Option<f64>,
    #[schema(required = true)]
    pub bytes_per_second_avg: Option<f64>,
    #[schema(required = true)]
    pub active_streams_max: Option<i64>,
}

/// What gossip said of a node from `firstSeenAt` on, until the next change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GossipChange {
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub first_seen_at: DateTime<Utc>,
    pub address: String,
    #[schema(required = true)]
    pub version: Option<String>,
    /// Null in gossip counts as private.
    pub is_public: bool,
    /// What differs from the observation before: some of `address`, `version`, `isPublic`;
    /// empty for the first observation of the window.
    pub changed: Vec<String>,
}

/// A seed's reports of a node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeedSighting {
    pub seed_base_url: String,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub first_seen_at: DateTime<Utc>,
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub last_seen_at: DateTime<Utc>,
}

/// A credits snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreditsPoint {
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub observed_at: DateTime<Utc>,
    pub credits: i64,
}

/// `GET /api/network/history`: collection cycles by bucket.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkHistory {
    #[serde(flatten)]
    pub window: WindowBody,
    /// Oldest first, the cycles of every network covered together; a bucket without a finished
    /// cycle is absent.
    pub cycles: Vec<CycleBucket>,
    /// Each network's own cycles, in name order.
    pub networks: Vec<NetworkCycles>,
}

/// One network's cycles by bucket.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkCycles {
    #[schema(example = "mainnet")]
    pub network: String,
    /// Oldest first; a bucket without a finished cycle is absent.
    pub cycles: Vec<CycleBucket>,
}

/// The finished collection cycles that started within one bucket.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CycleBucket {
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub bucket_start: DateTime<Utc>,
    pub cycles: i64,
    /// Distinct nodes the seeds reported, per cycle.
    pub observed_avg: f64,
    pub observed_max: i64,
    /// Nodes whose last get-stats had succeeded, at the end of each cycle.
    pub reachable_avg: f64,
    /// Nodes reported public, per cycle.
    pub public_avg: f64,
    /// get-stats calls over the bucket's cycles.
    pub stats_attempted: i64,
    pub stats_succeeded: i64,
}
