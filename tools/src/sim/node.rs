//! One simulated node: what gossip says about it and what it says about itself.

use chrono::DateTime;
use serde_json::{Map, Value, json};

use super::PodFault;
use crate::rng::Rng;

/// Versions as real nodes report them, "unknown" included.
const VERSIONS: [&str; 5] = [
    "0.7.3",
    "0.8.0-trynet.20251212183600.9eea72e",
    "0.7.0-trynet.20251208141952.3b3bb24",
    "0.6.0",
    "unknown",
];
const STORAGE_COMMITTED: [u64; 4] = [
    100_000_000_000,
    183_000_000_000,
    340_000_000_000,
    1_000_000_000_000,
];

/// A node as gossip knows it, and as it knows itself. Strays (no pubkey or an invalid one)
/// are nodes too: they only lack an identity the collector accepts.
#[derive(Debug)]
pub(super) struct Node {
    pub(super) pubkey: Option<String>,
    pub(super) gossip_port: u16,
    pub(super) rpc_port: u16,
    pub(super) public: bool,
    /// Private nodes say `is_public: false` or `null`, as real ones do.
    is_public_null: bool,
    version: &'static str,
    /// `None`: the storage fields are sent as `null`.
    storage_committed: Option<u64>,
    storage_used: u64,
    uptime: u64,
    packets_received: u64,
    packets_sent: u64,
    total_bytes: u64,
    /// Growth per second of the three cumulative counters above.
    rates: [u64; 3],
    current_index: u64,
    active_streams: u64,
    cpu_percent: f64,
    ram_total: u64,
    ram_used: u64,
    /// Seconds between the node's last gossip and now.
    pub(super) staleness: i64,
    pub(super) credits: u64,
    pub(super) fault: PodFault,
}

impl Node {
    /// A node with random (but seeded) version, storage and counters, up for a while.
    pub(super) fn random(
        rng: &mut Rng,
        pubkey: Option<String>,
        gossip_port: u16,
        rpc_port: u16,
        public: bool,
        null_flags: bool,
    ) -> Self {
        let committed = STORAGE_COMMITTED[rng.range(0, STORAGE_COMMITTED.len() as u64) as usize];
        let rates = [rng.range(1, 20), rng.range(1, 20), rng.range(100, 5000)];
        let mut node = Self {
            pubkey,
            gossip_port,
            rpc_port,
            public,
            is_public_null: !public && null_flags,
            version: VERSIONS[rng.range(0, VERSIONS.len() as u64) as usize],
            storage_committed: (!null_flags).then_some(committed),
            storage_used: rng.range(0, committed / 1000),
            uptime: 0,
            packets_received: 0,
            packets_sent: 0,
            total_bytes: 0,
            rates,
            current_index: rng.range(0, 100),
            active_streams: rng.range(0, 8),
            cpu_percent: rng.range(50, 9000) as f64 / 100.0,
            ram_total: 12_567_232_512,
            ram_used: rng.range(1_000_000_000, 12_000_000_000),
            staleness: rng.range(0, 60) as i64,
            credits: rng.range(0, 500),
            fault: PodFault::None,
        };
        node.advance(rng.range(3_600, 30 * 86_400));
        node
    }

    /// `seconds` pass: counters, uptime and credits grow.
    pub(super) fn tick(&mut self, seconds: u64) {
        self.advance(seconds);
        self.credits += self.rates[0] % 3;
    }

    fn advance(&mut self, seconds: u64) {
        self.uptime = self.uptime.saturating_add(seconds);
        let [received, sent, bytes] = self.rates;
        self.packets_received = self.packets_received.saturating_add(received * seconds);
        self.packets_sent = self.packets_sent.saturating_add(sent * seconds);
        self.total_bytes = self.total_bytes.saturating_add(bytes * seconds);
        self.current_index += 1;
    }

    /// The node is updated: it reports the next version of the list (the last wraps around).
    pub(super) fn change_version(&mut self) {
        let now = VERSIONS
            .iter()
            .position(|v| *v == self.version)
            .unwrap_or(0);
        self.version = VERSIONS[(now + 1) % VERSIONS.len()];
    }

    /// The process starts again: cumulative counters and uptime go back to (near) zero.
    pub(super) fn restart(&mut self) {
        self.uptime = 0;
        self.packets_received = 0;
        self.packets_sent = 0;
        self.total_bytes = 0;
        self.advance(1);
    }

    /// A `get-pods-with-stats` entry about this node, at `gossip_port`, last seen `last_seen`.
    pub(super) fn with_stats_json(&self, gossip_port: u16, last_seen: i64) -> Value {
        let is_public = match (self.public, self.is_public_null) {
            (true, _) => json!(true),
            (false, true) => Value::Null,
            (false, false) => json!(false),
        };
        let (committed, used, percent) = match self.storage_committed {
            Some(committed) => (
                json!(committed),
                json!(self.storage_used),
                json!(self.storage_used as f64 / committed as f64 * 100.0),
            ),
            None => (Value::Null, Value::Null, Value::Null),
        };
        json!({
            "address": address(gossip_port), "is_public": is_public,
            "last_seen_timestamp": last_seen, "pubkey": self.pubkey, "rpc_port": self.rpc_port,
            "storage_committed": committed, "storage_usage_percent": percent, "storage_used": used,
            "uptime": self.uptime, "version": self.version,
        })
    }

    /// The older `get-pods` entry: no is_public, rpc_port or storage; `pubkey` absent rather
    /// than null.
    pub(super) fn legacy_json(&self, gossip_port: u16, last_seen: i64) -> Value {
        let mut object = Map::new();
        object.insert("address".into(), json!(address(gossip_port)));
        let when = DateTime::from_timestamp(last_seen, 0)
            .map(|time| time.format("%Y-%m-%d %H:%M:%S UTC").to_string());
        object.insert("last_seen".into(), json!(when));
        object.insert("last_seen_timestamp".into(), json!(last_seen));
        if let Some(pubkey) = &self.pubkey {
            object.insert("pubkey".into(), json!(pubkey));
        }
        object.insert("version".into(), json!(self.version));
        Value::Object(object)
    }

    /// The flat `get-stats` result, as real nodes send it.
    pub(super) fn stats_json(&self, now: i64) -> Value {
        json!({
            "active_streams": self.active_streams, "cpu_percent": self.cpu_percent,
            "current_index": self.current_index, "file_size": self.storage_committed.unwrap_or(0),
            "last_updated": now, "packets_received": self.packets_received,
            "packets_sent": self.packets_sent, "ram_total": self.ram_total, "ram_used": self.ram_used,
            "total_bytes": self.total_bytes, "total_pages": self.current_index / 4,
            "uptime": self.uptime,
        })
    }
}

pub(super) fn address(gossip_port: u16) -> String {
    format!("127.0.0.1:{gossip_port}")
}
