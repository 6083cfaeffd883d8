//! The pRPC client against the simulated network: what a collector will see.

mod pods;
mod seeds;

use std::time::Duration;

use super::*;
use pnode_api::net::{
    http::Outbound,
    prpc::PrpcClient,
    targets::{AllowedTargets, StatsTarget},
};

const SHORT: Duration = Duration::from_millis(300);

fn client() -> PrpcClient {
    PrpcClient::new(&Outbound::web_roots().expect("TLS"), SHORT)
}

/// Two seeds, eight pods, half of them public: enough for every behaviour, quick to start.
fn small() -> SimConfig {
    SimConfig {
        seeds: 2,
        pods: 8,
        public_every: 2,
        ..SimConfig::default()
    }
}

fn rpc_url(pod: &SimPod) -> StatsTarget {
    let loopback: AllowedTargets = "127.0.0.0/8".parse().expect("a CIDR");
    loopback
        .check(&format!("127.0.0.1:{}", pod.rpc_port), Some(pod.rpc_port))
        .expect("a loopback target")
}
