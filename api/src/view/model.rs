//! The JSON the dashboards read (`../shared/reference/api-contract.md`): camelCase, every key
//! present, absent values `null`, timestamps RFC 3339 UTC with millisecond precision and a `Z`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::{seeds::Seed, timestamp};

/// One node as the network sees it now.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "id": 17,
    "pubkey": "7T4zPNNDAT7rwkQ6Rf2QyMvLwowQ4KDSxKRXF9qEtYvR",
    "reachable": true,
    "failureCount": 0,
    "lastStatsAttemptAt": "2025-12-06T21:49:13.005Z",
    "lastStatsSuccessAt": "2025-12-06T21:49:13.005Z",
    "latestAddress": "62.84.180.240:9001",
    "latestVersion": "0.7.3",
    "gossipLastSeen": "2025-12-06T21:48:58.000Z",
    "seedBaseUrlsSeen": ["http://192.190.136.36:6000", "http://192.190.136.37:6000"],
    "seedsSeenCount": 2,
    "latestStats": {
        "timestamp": "2025-12-06T21:49:13.005Z",
        "cpuPercent": 6.63,
        "ramUsedBytes": 5399207936_i64,
        "ramTotalBytes": 12567232512_i64,
        "uptimeSeconds": 154484,
        "packetsInPerSec": 2.5,
        "packetsOutPerSec": 1.5,
        "totalBytes": 9875412,
        "activeStreams": 2,
        "bytesPerSecond": 100.5
    },
    "latestCredits": 300,
    "creditsUpdatedAt": "2025-12-06T21:00:00.000Z",
    "creditDelta24h": 100,
    "isPublic": true,
    "storageCommitted": 183000000000_i64,
    "storageUsed": 94633,
    "storageUsagePercent": 0.0000517,
    "score": 94.5,
    "scoreParts": {
        "reachable": 1.0,
        "statsSuccess24h": 0.98,
        "versionCurrency": 1.0,
        "uptime": 1.0,
        "seedVisibility": 0.5,
        "scoredAt": "2025-12-06T21:49:20.120Z"
    },
    "network": "mainnet"
}))]
pub struct GlobalPnode {
    /// Database id.
    pub id: i64,
    /// The node's identity (base58).
    pub pubkey: String,
    /// The last get-stats call succeeded.
    pub reachable: bool,
    /// Consecutive failed get-stats calls.
    pub failure_count: i64,
    #[serde(serialize_with = "timestamp::serialize_option")]
    #[schema(value_type = Option<String>, format = DateTime, required = true)]
    pub last_stats_attempt_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "timestamp::serialize_option")]
    #[schema(value_type = Option<String>, format = DateTime, required = true)]
    pub last_stats_success_at: Option<DateTime<Utc>>,
    /// "ip:port" from the newest gossip observation.
    #[schema(required = true)]
    pub latest_address: Option<String>,
    /// Version from the newest gossip observation.
    #[schema(required = true)]
    pub latest_version: Option<String>,
    /// The newest observation's `last_seen_timestamp` as a time, else when it was observed.
    #[serde(serialize_with = "timestamp::serialize_option")]
    #[schema(value_type = Option<String>, format = DateTime, required = true)]
    pub gossip_last_seen: Option<DateTime<Utc>>,
    /// Every seed whose gossip has reported this node (within retention), sorted.
    pub seed_base_urls_seen: Vec<String>,
    /// Length of `seedBaseUrlsSeen`.
    pub seeds_seen_count: usize,
    #[schema(required = true)]
    pub latest_stats: Option<LatestStats>,
    #[schema(required = true)]
    pub latest_credits: Option<i64>,
    #[serde(serialize_with = "timestamp::serialize_option")]
    #[schema(value_type = Option<String>, format = DateTime, required = true)]
    pub credits_updated_at: Option<DateTime<Utc>>,
    /// Newest credits snapshot minus the newest one at or before 24 h ago; null unless both exist.
    #[serde(rename = "creditDelta24h")]
    #[schema(required = true)]
    pub credit_delta_24h: Option<i64>,
    /// The newest observation's `is_public` (null there, or no observation: false).
    pub is_public: bool,
    /// Bytes committed, from the newest observation.
    #[schema(required = true)]
    pub storage_committed: Option<i64>,
    /// Bytes used, from the newest observation.
    #[schema(required = true)]
    pub storage_used: Option<i64>,
    /// 0-100 as pRPC reports it, from the newest observation.
    #[schema(required = true)]
    pub storage_usage_percent: Option<f64>,
    /// Health score, 0-100 (one decimal): the parts in `scoreParts` weighted reachable 30,
    /// statsSuccess24h 25, versionCurrency 20, uptime 15, seedVisibility 10. Computed when a
    /// collection cycle closes; null until the first one after the node appeared.
    #[schema(required = true, minimum = 0, maximum = 100)]
    pub score: Option<f64>,
    /// What `score` is made of; null with it.
    #[schema(required = true)]
    pub score_parts: Option<ScoreParts>,
    /// The network it gossips on: a node is (network, pubkey), so a pubkey on two networks is
    /// two nodes, each listed.
    #[schema(example = "mainnet")]
    pub network: String,
}

/// The parts of a node's health score, each 0-1, as of `scoredAt`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScoreParts {
    /// 1 when the last get-stats call succeeded, else 0.
    #[schema(minimum = 0, maximum = 1)]
    pub reachable: f64,
    /// Of the collection cycles that started in the 24 hours before `scoredAt` (since the node
    /// was first seen) and asked nodes for stats, the share that recorded a stats sample of it.
    #[serde(rename = "statsSuccess24h")]
    #[schema(minimum = 0, maximum = 1)]
    pub stats_success_24h: f64,
    /// 1 on the network's newest version or past it, 0.5 on an older one of its major.minor,
    /// else 0. The newest is the newest (numeric order) that at least 2 nodes and 5 % of the
    /// nodes with a version run, or the newest of all when none does.
    #[schema(minimum = 0, maximum = 1)]
    pub version_currency: f64,
    /// When the last get-stats call succeeded, the newest stats sample's uptime over 24 hours,
    /// at most 1; else 0.
    #[schema(minimum = 0, maximum = 1)]
    pub uptime: f64,
    /// The seeds that have reported the node over all seeds that have reported any node.
    #[schema(minimum = 0, maximum = 1)]
    pub seed_visibility: f64,
    /// When the parts were computed: the close of a collection cycle.
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub scored_at: DateTime<Utc>,
}

/// The stats sample shown for a node: of its two newest samples, the newer one that has a
/// throughput value, else the newest.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LatestStats {
    /// When the sample was taken.
    #[serde(serialize_with = "timestamp::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub timestamp: DateTime<Utc>,
    #[schema(required = true)]
    pub cpu_percent: Option<f64>,
    /// 0 is a value, not null.
    #[schema(required = true)]
    pub ram_used_bytes: Option<i64>,
    #[schema(required = true)]
    pub ram_total_bytes: Option<i64>,
    #[schema(required = true)]
    pub uptime_seconds: Option<i64>,
    /// From the cumulative counters, previous sample to this one.
    #[schema(required = true)]
    pub packets_in_per_sec: Option<f64>,
    #[schema(required = true)]
    pub packets_out_per_sec: Option<f64>,
    #[schema(required = true)]
    pub total_bytes: Option<i64>,
    #[schema(required = true)]
    pub active_streams: Option<i64>,
    /// total_bytes delta / seconds between samples; null after a counter reset or a gap under 5 s.
    #[schema(required = true)]
    pub bytes_per_second: Option<f64>,
}

/// `GET /api/pnodes`: the whole network (`globalPnodes`) without `limit`, one page (`pnodes`
/// and `pagination`) with it.
// Only a schema, for the OpenAPI document: the answers are written piece by piece in the same
// shape (`crate::web::answer::pnodes`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
#[expect(
    dead_code,
    reason = "a schema: the answers write these shapes without building it"
)]
pub(crate) enum PnodesBody {
    Full(FullView),
    Page(PageView),
}

/// The whole network, in the order asked for (streamed).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FullView {
    /// The seeds: those configured, then any other the nodes name in `seedBaseUrlsSeen`.
    pub seeds: Vec<Seed>,
    pub global_pnodes: Vec<GlobalPnode>,
}

/// One page of the network (`limit` and `offset`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PageView {
    /// The seeds: those configured, then any other the nodes name in `seedBaseUrlsSeen`.
    pub seeds: Vec<Seed>,
    /// The page's nodes, in order.
    pub pnodes: Vec<GlobalPnode>,
    pub pagination: Pagination,
}

/// The start of a body that lists nodes under `key` (`globalPnodes` or `pnodes`) after `seeds`
/// (a JSON array): `{"seeds":[…],"globalPnodes":[`. Every writer of such a body starts it here,
/// so that a streamed answer and a cached one are the same bytes.
pub(crate) fn nodes_body_head(seeds_json: &[u8], key: &str) -> Vec<u8> {
    let mut head = Vec::with_capacity(seeds_json.len() + key.len() + 16);
    head.extend_from_slice(b"{\"seeds\":");
    head.extend_from_slice(seeds_json);
    head.extend_from_slice(b",\"");
    head.extend_from_slice(key.as_bytes());
    head.extend_from_slice(b"\":[");
    head
}

/// Where a page sits in the whole selection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    /// Nodes matching the filters, over all pages.
    pub total: u64,
    pub limit: u64,
    pub offset: u64,
    /// More nodes come after this page.
    pub has_more: bool,
}

/// A score as answers show it: rounded to one decimal, half away from zero (stored unrounded,
/// so that ordering by it and this rounding are the same on every backend).
pub(crate) fn shown_score(score: f64) -> f64 {
    (score * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_are_shown_to_one_decimal_from_the_stored_double() {
        // Rounded from the stored double, whichever backend summed it.
        assert_eq!(shown_score(86.049_999_999_999_99), 86.0);
        assert_eq!(shown_score(86.050_000_000_000_01), 86.1);
        assert_eq!(shown_score(80.833_333_333_333_33), 80.8);
        assert_eq!(shown_score(0.25), 0.3);
        assert_eq!(shown_score(100.0), 100.0);
    }

    #[test]
    fn pagination_is_camel_case() {
        let json = serde_json::to_value(Pagination {
            total: 1,
            limit: 1,
            offset: 0,
            has_more: false,
        })
        .expect("json");
        assert_eq!(
            json,
            serde_json::json!({"total": 1, "limit": 1, "offset": 0, "hasMore": false})
        );
    }
}
