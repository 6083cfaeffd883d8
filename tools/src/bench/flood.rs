//! `pnode-api bench --group overload`: pages and health checks under a flood of full views. Each
//! case starts the server (this build, or `--server-binary` to measure another with the same
//! driver), measures `?limit=50` pages and `/api/health` alone, then again while `--flood` clients
//! ask for the full view back to back and a write lands every `--flood-write-every` (so cached
//! answers go cold as they do after each collection cycle). It prints the pages' and health
//! checks' latency, what the flood got (full views answered, refused with 503), the requests that
//! failed otherwise (any page or health check not answered 200 counts there too) and the server's
//! RSS.

use std::{
    path::PathBuf,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use reqwest::StatusCode;

use super::{server::ServerProcess, write_something};
use crate::load;
use pnode_api::db::Database;

/// How hard to flood, and which server to flood.
#[derive(Debug, Clone, clap::Args)]
pub struct FloodArgs {
    /// Clients asking for the full view back to back (the `overload` group).
    #[arg(long, default_value_t = 64)]
    pub flood: usize,
    /// How long each phase (alone, then flooded) runs.
    #[arg(long, default_value = "15s", value_parser = humantime::parse_duration)]
    pub flood_seconds: Duration,
    /// A write (a new data version) lands this often during the flood.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub flood_write_every: Duration,
    /// The `pnode-api` binary to serve with (default: this one), e.g. an older build.
    #[arg(long)]
    pub server_binary: Option<PathBuf>,
}

const PAGE: &str = "/api/pnodes?limit=50";
const HEALTH: &str = "/api/health";
const FULL_VIEW: &str = "/api/pnodes";
/// Clients measuring pages, and health checks, each one request at a time.
const PROBES: usize = 2;

/// Latencies (ms) of successful answers, and how the others ended.
#[derive(Debug, Default)]
struct Outcomes {
    ok: Vec<f64>,
    unavailable: usize,
    failed: usize,
}

impl Outcomes {
    fn record(&mut self, answer: Result<StatusCode, String>, took: Duration) {
        match answer {
            Ok(status) if status.is_success() => self.ok.push(took.as_secs_f64() * 1000.0),
            Ok(StatusCode::SERVICE_UNAVAILABLE) => self.unavailable += 1,
            _ => self.failed += 1,
        }
    }

    fn percentile(&self, p: f64) -> f64 {
        load::Latencies::from_ms(self.ok.clone())
            .percentile(p)
            .unwrap_or(f64::NAN)
    }
}

type Shared = Arc<Mutex<Outcomes>>;

/// One GET whose body is read whole: its status, or why it failed.
async fn ask(client: &reqwest::Client, url: &str) -> Result<StatusCode, String> {
    let response = client.get(url).send().await.map_err(load::describe)?;
    let status = response.status();
    response.bytes().await.map_err(load::describe)?;
    Ok(status)
}

/// Asks for `url` back to back until `stop`, recording into `into`.
fn spawn_loop(
    client: &reqwest::Client,
    url: String,
    stop: &Arc<AtomicBool>,
    into: &Shared,
) -> tokio::task::JoinHandle<()> {
    let (client, stop, into) = (client.clone(), Arc::clone(stop), Arc::clone(into));
    tokio::spawn(async move {
        while !stop.load(Ordering::Relaxed) {
            let sent = Instant::now();
            let answer = ask(&client, &url).await;
            into.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .record(answer, sent.elapsed());
        }
    })
}

/// Runs the cases (view cache on, then off) and prints the report.
pub async fn run(
    client: &reqwest::Client,
    database_url: &str,
    db: &Database,
    nodes: u64,
    args: &FloodArgs,
) -> anyhow::Result<()> {
    let binary = match &args.server_binary {
        Some(binary) => binary.clone(),
        None => std::env::current_exe()?,
    };
    println!(
        "server {}; {} flood clients; {PROBES} clients each for {PAGE} and {HEALTH}; {:?} per phase",
        binary.display(),
        args.flood,
        args.flood_seconds
    );
    println!(
        "{:<22} {:>9} {:>9} {:>9} {:>10} {:>9} {:>9} {:>9} {:>11} {:>8}",
        "case",
        "page p50",
        "page p99",
        "page max",
        "health p99",
        "full 200",
        "full 503",
        "failed",
        "full p50 ms",
        "RSS MiB"
    );
    for cache in ["64", "0"] {
        let server =
            ServerProcess::start_binary(&binary, database_url, &[("PNODE_VIEW_CACHE_MB", cache)])?;
        let base = format!("http://{}", server.addr);
        ask(client, &format!("{base}{FULL_VIEW}"))
            .await
            .map_err(|err| anyhow::anyhow!(err))?;
        for flood in [0, args.flood] {
            let stop = Arc::new(AtomicBool::new(false));
            let (pages, health, full): (Shared, Shared, Shared) = Default::default();
            let mut tasks = Vec::new();
            for _ in 0..PROBES {
                tasks.push(spawn_loop(client, format!("{base}{PAGE}"), &stop, &pages));
                tasks.push(spawn_loop(
                    client,
                    format!("{base}{HEALTH}"),
                    &stop,
                    &health,
                ));
            }
            for _ in 0..flood {
                tasks.push(spawn_loop(
                    client,
                    format!("{base}{FULL_VIEW}"),
                    &stop,
                    &full,
                ));
            }
            let started = Instant::now();
            let mut round = 0;
            while started.elapsed() < args.flood_seconds {
                tokio::time::sleep(args.flood_write_every.min(args.flood_seconds)).await;
                if flood > 0 {
                    write_something(db, nodes, round).await?;
                    round += 1;
                }
            }
            stop.store(true, Ordering::Relaxed);
            for task in tasks {
                task.await?;
            }
            let lock = |shared: &Shared| {
                std::mem::take(&mut *shared.lock().unwrap_or_else(PoisonError::into_inner))
            };
            let (pages, health, full) = (lock(&pages), lock(&health), lock(&full));
            println!(
                "{:<22} {:>9.2} {:>9.2} {:>9.2} {:>10.2} {:>9} {:>9} {:>9} {:>11.1} {:>8.1}",
                format!("cache {cache} MB, flood {flood}"),
                pages.percentile(0.50),
                pages.percentile(0.99),
                pages.percentile(1.0),
                health.percentile(0.99),
                full.ok.len(),
                full.unavailable,
                full.failed + pages.failed + pages.unavailable + health.failed + health.unavailable,
                full.percentile(0.50),
                server.rss_bytes()? as f64 / (1024.0 * 1024.0)
            );
        }
    }
    Ok(())
}
