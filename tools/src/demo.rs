//! `pnode-api demo`: the whole service against two simulated networks on loopback (a mainnet and
//! a devnet that share some pubkeys), in one command. Nothing outside 127.0.0.1 is contacted.

use std::time::Duration;

use crate::sim::{PodFault, SeedFault, SimConfig, SimNetwork};
use pnode_api::app::{config::Settings, shutdown, startup::Application};

/// Simulated time passes this often (by as much as really passed): counters grow, seeds' views
/// move.
const TICK_EVERY: Duration = Duration::from_secs(5);

/// Starts the simulated network, collects it every 5 s and serves the API until SIGINT/SIGTERM.
pub async fn run(mut settings: Settings) -> anyhow::Result<()> {
    let stop = shutdown::listen()?;
    let sim = SimNetwork::start(SimConfig {
        seeds: 3,
        pods: 300,
        public_every: 5,
        random_seed: 7,
        duplicate_pubkeys: 2,
        missing_pubkeys: 1,
        invalid_pubkeys: 1,
        // Every 2 minutes (24 ticks of 5 s) each pod changes version, every 6 it moves: a few
        // changes a minute over 300 pods, for the nodes' history to show.
        churn_every: 24,
        shared_pubkeys: Vec::new(),
    })
    .await?;
    // A devnet of 120 pods behind 2 seeds, 20 of them under pubkeys that are on mainnet too.
    let shared: Vec<String> = sim
        .pods()
        .into_iter()
        .take(20)
        .map(|pod| pod.pubkey)
        .collect();
    let devnet = SimNetwork::start(SimConfig {
        seeds: 2,
        pods: 120,
        public_every: 4,
        random_seed: 8,
        duplicate_pubkeys: 1,
        missing_pubkeys: 0,
        invalid_pubkeys: 0,
        churn_every: 36,
        shared_pubkeys: shared,
    })
    .await?;
    // A little of what the real network does: a seed that only knows the legacy method, and
    // public nodes that answer slowly, with garbage, or not at all.
    sim.set_seed_fault(2, SeedFault::MethodNotFound);
    sim.set_pod_fault(5, PodFault::Slow(Duration::from_secs(10)));
    sim.set_pod_fault(10, PodFault::Garbage);
    sim.set_pod_fault(15, PodFault::Silent);

    let seeds = sim
        .seed_urls()
        .iter()
        .map(|url| format!("mainnet:{url}"))
        .chain(devnet.seed_urls().iter().map(|url| format!("devnet:{url}")))
        .collect::<Vec<_>>();
    settings.seeds = seeds.join(",").parse()?;
    settings.collector.interval = TICK_EVERY;
    // The simulated pods listen on loopback, which the default (`public`) never calls.
    settings.collector.stats_targets = "127.0.0.0/8".parse().map_err(anyhow::Error::msg)?;
    settings.collector.credits_url = format!(
        "mainnet:{},devnet:{}",
        sim.credits_url(),
        devnet.credits_url()
    )
    .into();
    settings.collector.credits_interval = Duration::from_secs(30);
    settings.run_collector = true;

    let app = Application::build(&settings).await?;
    let base = format!("http://{}:{}", settings.bind.ip(), app.port());
    println!(
        "pnode-api demo: a simulated mainnet of 300 pods behind 3 seeds and a devnet of 120 pods \
         behind 2 (20 pubkeys on both), collected every 5 s"
    );
    println!("  the global view:   {base}/api/pnodes");
    println!("  one network:       {base}/api/pnodes?network=devnet");
    println!("  the networks:      {base}/api/networks");
    println!("  one page of it:    {base}/api/pnodes?limit=20&sort=version&order=desc");
    println!("  collector status:  {base}/api/ingestion-status");
    println!("  API docs:          {base}/docs");
    println!("Stop with Ctrl-C.");

    let serving = app.run_until_stopped(stop);
    tokio::pin!(serving);
    // The simulated clock moves by the real time elapsed, so what the nodes report (last seen,
    // uptimes) stays in step with the wall clock.
    let mut every = tokio::time::interval(TICK_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = std::time::Instant::now();
    let result = loop {
        tokio::select! {
            result = &mut serving => break result,
            _ = every.tick() => {
                let elapsed = last.elapsed();
                let whole = Duration::from_secs(elapsed.as_secs());
                last += whole;
                sim.tick_by(whole);
                devnet.tick_by(whole);
            }
        }
    };
    sim.stop().await;
    devnet.stop().await;
    result
}
