//! The simulated network's state: its pods, what each seed reports about them, and how time
//! passes. Pure data: the HTTP side lives in `server.rs`.

use serde_json::{Value, json};

use super::{
    PodFault, SeedFault, SimConfig, SimPod,
    node::{Node, address},
};
use crate::rng::Rng;

/// How much older a duplicate's second address is than the pod's current one.
const DUPLICATE_AGE_SECONDS: i64 = 600;
/// How far behind each further seed's view of last-seen times is.
const SEED_LAG_SECONDS: i64 = 10;

/// Whether pod `index` is public under `config`; `public_every == 0` means none is.
pub(super) fn is_public(config: &SimConfig, index: usize) -> bool {
    config.public_every > 0 && index.is_multiple_of(config.public_every)
}

/// What the whole network looks like at the simulated instant `now`.
#[derive(Debug)]
pub(super) struct Network {
    /// The valid pods, in index order.
    pods: Vec<Node>,
    /// Second addresses of valid pods: (pod index, gossip port).
    duplicates: Vec<(usize, u16)>,
    strays: Vec<Node>,
    seed_faults: Vec<SeedFault>,
    credits_garbage: bool,
    /// Answers the credits API has given (garbage included).
    credits_served: u64,
    /// Entries every seed reports as they are, after its own (hostile gossip, for tests).
    extra_pods: Vec<Value>,
    now: i64,
    ticks: u64,
    /// Simulated seconds passed since the start.
    elapsed: u64,
    churn_every: u64,
    /// Where pods that move get their next (fake) gossip port.
    moved_ports: u16,
}

/// One entry of a seed's pods answer.
struct Entry<'a> {
    node: &'a Node,
    gossip_port: u16,
    last_seen: i64,
}

impl Network {
    /// A network built from `config` alone (and the clock): `rpc_ports` has one port per pod,
    /// `stray_rpc_ports` one per stray (missing pubkeys first, then invalid ones).
    pub(super) fn new(
        config: &SimConfig,
        rpc_ports: &[u16],
        stray_rpc_ports: &[u16],
        now: i64,
    ) -> Self {
        let mut rng = Rng::new(config.random_seed);
        let mut next_gossip_port = fake_gossip_ports();
        let pods: Vec<Node> = rpc_ports
            .iter()
            .enumerate()
            .map(|(index, &rpc_port)| {
                let random = rng.pubkey();
                let pubkey = Some(config.shared_pubkeys.get(index).cloned().unwrap_or(random));
                let public = is_public(config, index);
                Node::random(
                    &mut rng,
                    pubkey,
                    next_gossip_port(),
                    rpc_port,
                    public,
                    index % 3 == 1,
                )
            })
            .collect();
        let duplicates = (0..config.duplicate_pubkeys)
            .filter(|_| !pods.is_empty())
            .map(|k| (pods.len() - 1 - k % pods.len(), next_gossip_port()))
            .collect();
        let strays = stray_rpc_ports
            .iter()
            .enumerate()
            .map(|(k, &rpc_port)| {
                let pubkey = k
                    .checked_sub(config.missing_pubkeys)
                    .map(|invalid| format!("TestPubkey{}", 14 + invalid));
                Node::random(
                    &mut rng,
                    pubkey,
                    next_gossip_port(),
                    rpc_port,
                    false,
                    k % 2 == 0,
                )
            })
            .collect();
        Self {
            pods,
            duplicates,
            strays,
            seed_faults: vec![SeedFault::None; config.seeds],
            credits_garbage: false,
            credits_served: 0,
            extra_pods: Vec::new(),
            now,
            ticks: 0,
            elapsed: 0,
            churn_every: config.churn_every,
            moved_ports: 30_000,
        }
    }

    /// The ground truth: every valid pod, in index order.
    pub(super) fn sim_pods(&self) -> Vec<SimPod> {
        self.pods
            .iter()
            .map(|node| SimPod {
                pubkey: node.pubkey.clone().unwrap_or_default(),
                address: address(node.gossip_port),
                rpc_port: node.rpc_port,
                public: node.public,
            })
            .collect()
    }

    pub(super) fn seed_fault(&self, seed: usize) -> Option<&SeedFault> {
        self.seed_faults.get(seed)
    }

    pub(super) fn set_seed_fault(&mut self, seed: usize, fault: SeedFault) {
        if let Some(slot) = self.seed_faults.get_mut(seed) {
            *slot = fault;
        }
    }

    pub(super) fn pod_fault(&self, pod: usize) -> Option<&PodFault> {
        self.pods.get(pod).map(|node| &node.fault)
    }

    pub(super) fn set_pod_fault(&mut self, pod: usize, fault: PodFault) {
        if let Some(node) = self.pods.get_mut(pod) {
            node.fault = fault;
        }
    }

    /// From now on every seed also reports `pods`, as they are.
    pub(super) fn set_extra_pods(&mut self, pods: Vec<Value>) {
        self.extra_pods = pods;
    }

    /// Counts one answer of the credits API.
    pub(super) fn serve_credits(&mut self) {
        self.credits_served += 1;
    }

    pub(super) fn credits_served(&self) -> u64 {
        self.credits_served
    }

    pub(super) fn credits_garbage(&self) -> bool {
        self.credits_garbage
    }

    pub(super) fn set_credits_garbage(&mut self, garbage: bool) {
        self.credits_garbage = garbage;
    }

    /// `seconds` pass: counters, uptimes and credits grow, and every seed's view shifts by one
    /// pod.
    pub(super) fn tick(&mut self, seconds: u64) {
        self.now += i64::try_from(seconds).unwrap_or(i64::MAX);
        self.ticks += 1;
        self.elapsed = self.elapsed.saturating_add(seconds);
        for node in self.pods.iter_mut().chain(&mut self.strays) {
            node.tick(seconds);
        }
        if self.churn_every > 0 {
            let every = self.churn_every;
            for (index, node) in self.pods.iter_mut().enumerate() {
                let turn = self.ticks + index as u64;
                if turn.is_multiple_of(every) {
                    node.change_version();
                }
                if turn % (3 * every) == 1 {
                    self.moved_ports = self.moved_ports.checked_add(1).unwrap_or(30_000);
                    node.gossip_port = self.moved_ports;
                }
            }
        }
    }

    /// The pod's process starts again: cumulative counters and uptime go back to (near) zero.
    pub(super) fn restart_pod(&mut self, pod: usize) {
        if let Some(node) = self.pods.get_mut(pod) {
            node.restart();
        }
    }

    /// The entries seed `seed` reports now: the valid pods its lagged view holds (it misses
    /// those whose index, shifted by the ticks so far, falls on it modulo `seeds + 1`, so
    /// every pod is seen by some seed when there are two or more), then duplicates and strays.
    fn report(&self, seed: usize) -> Vec<Entry<'_>> {
        let lag = seed as i64 * SEED_LAG_SECONDS;
        let modulus = self.seed_faults.len() as u64 + 1;
        let mut entries =
            Vec::with_capacity(self.pods.len() + self.duplicates.len() + self.strays.len());
        for (index, node) in self.pods.iter().enumerate() {
            if (index as u64 + self.ticks) % modulus != seed as u64 {
                entries.push(self.entry(node, node.gossip_port, lag));
            }
        }
        for &(index, gossip_port) in &self.duplicates {
            if let Some(node) = self.pods.get(index) {
                entries.push(self.entry(node, gossip_port, lag + DUPLICATE_AGE_SECONDS));
            }
        }
        for node in &self.strays {
            entries.push(self.entry(node, node.gossip_port, lag));
        }
        entries
    }

    fn entry<'a>(&self, node: &'a Node, gossip_port: u16, lag: i64) -> Entry<'a> {
        Entry {
            node,
            gossip_port,
            last_seen: self.now - node.staleness - lag,
        }
    }

    /// The valid pubkeys seed `seed` reports now, each once, in the order reported.
    pub(super) fn seen_by(&self, seed: usize) -> Vec<String> {
        let mut seen: Vec<String> = Vec::new();
        for entry in self.report(seed) {
            if let Some(pubkey) = &entry.node.pubkey
                && self
                    .pods
                    .iter()
                    .any(|pod| pod.pubkey.as_ref() == Some(pubkey))
                && !seen.contains(pubkey)
            {
                seen.push(pubkey.clone());
            }
        }
        seen
    }

    /// The `result` of `get-pods-with-stats` (or, `legacy`, of `get-pods`) on seed `seed`.
    pub(super) fn pods_result(&self, seed: usize, legacy: bool) -> Value {
        let mut entries: Vec<Value> = self
            .report(seed)
            .iter()
            .map(|entry| {
                if legacy {
                    entry.node.legacy_json(entry.gossip_port, entry.last_seen)
                } else {
                    entry
                        .node
                        .with_stats_json(entry.gossip_port, entry.last_seen)
                }
            })
            .collect();
        entries.extend(self.extra_pods.iter().cloned());
        json!({"total_count": entries.len(), "pods": entries})
    }

    /// The `result` of `get-stats` on pod `pod`.
    pub(super) fn pod_stats(&self, pod: usize) -> Option<Value> {
        self.pods.get(pod).map(|node| node.stats_json(self.now))
    }

    /// The `result` of `get-stats` on a seed, which is a node too.
    pub(super) fn seed_stats(&self) -> Value {
        json!({
            "active_streams": 1, "cpu_percent": 3.5, "current_index": self.ticks,
            "file_size": 558_000_000_000_u64, "last_updated": self.now,
            "packets_received": 1000 * self.ticks, "packets_sent": 900 * self.ticks,
            "ram_total": 12_567_232_512_u64, "ram_used": 5_399_207_936_u64,
            "total_bytes": 50_000 * self.ticks, "total_pages": 0,
            "uptime": 86_400 + self.elapsed,
        })
    }

    /// The credits API's answer: one entry per valid pod.
    pub(super) fn credits(&self) -> Value {
        let credits: Vec<Value> = self
            .pods
            .iter()
            .map(|node| json!({"pod_id": node.pubkey, "credits": node.credits}))
            .collect();
        json!({"pods_credits": credits, "status": "success"})
    }
}

/// A counter of fake gossip ports: every entry gets its own address on 127.0.0.1, as many
/// pubkeys share one IP on the real network. Nothing listens on them and nothing should.
fn fake_gossip_ports() -> impl FnMut() -> u16 {
    let mut next: u16 = 9001;
    move || {
        let port = next;
        next = if next == u16::MAX { 9001 } else { next + 1 };
        port
    }
}
