//! `pnode-api bench`: the view's cost measured end to end. It fills the configured database with a
//! generated network (unless it already holds one), starts the real server as a child process on
//! loopback, drives it, and prints latency, throughput, statements per request and the server's
//! RSS. It contacts nothing but the server it started.

use std::{
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use chrono::Utc;
use sea_orm::{EntityTrait, PaginatorTrait};

use crate::{
    config::Settings,
    db::Database,
    memory,
    tools::{
        generate::{self, Spec},
        load::{self, Tally},
    },
};

/// How hard to drive the server.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub network: Spec,
    /// Requests per scenario, after a warm-up of 20.
    #[arg(long, default_value_t = 1000)]
    pub requests: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
}

const SCENARIOS: [(&str, &str); 2] = [
    ("full view", "/api/pnodes"),
    ("page limit=100", "/api/pnodes?limit=100"),
];
const WARM_UP: usize = 20;

/// Runs the benchmark and prints its report.
pub async fn run(settings: &Settings, args: BenchArgs) -> anyhow::Result<()> {
    let db = Database::connect(&settings.database).await?;
    db.migrate().await?;
    let existing = entity::pnode::Entity::find().count(db.conn()).await?;
    if existing == 0 {
        let started = Instant::now();
        let written = generate::generate(db.conn(), args.network, Utc::now()).await?;
        println!(
            "generated {} nodes, {} observations, {} samples in {:.1?}",
            written.nodes,
            written.observations,
            written.samples,
            started.elapsed()
        );
    } else {
        println!("using the {existing} nodes already in the database");
    }
    println!(
        "backend: {:?}; {} nodes; {} requests per scenario at concurrency {}",
        db.backend(),
        entity::pnode::Entity::find().count(db.conn()).await?,
        args.requests,
        args.concurrency
    );

    let mut server = ServerProcess::start(&settings.database.url)?;
    let client = load::client(Duration::from_secs(120))?;
    println!(
        "{:<16} {:>8} {:>9} {:>9} {:>9} {:>10}",
        "scenario", "p50 ms", "p99 ms", "max ms", "req/s", "stmts/req"
    );
    for (name, path) in SCENARIOS {
        let url = reqwest::Url::parse(&format!("http://{}{path}", server.addr))?;
        let statements = statements_per_request(&client, &server.addr, &url).await?;
        let tally = Arc::new(Tally::default());
        load::drive(&client, &url, WARM_UP, args.concurrency, &tally).await?;
        let run = load::drive(&client, &url, args.requests, args.concurrency, &tally).await?;
        if let Some(first) = tally.first_errors().first() {
            bail!(
                "{} of {} requests failed, first: {first}",
                tally.failed(),
                tally.done()
            );
        }
        let ms = |p| run.latencies.percentile(p).unwrap_or(f64::NAN);
        println!(
            "{:<16} {:>8.2} {:>9.2} {:>9.2} {:>9.1} {:>10}",
            name,
            ms(0.50),
            ms(0.99),
            ms(1.0),
            run.per_second().unwrap_or(f64::NAN),
            statements
        );
    }
    let rss = server.rss_bytes()?;
    println!(
        "server RSS after {} requests: {:.1} MiB",
        SCENARIOS.len() * (args.requests + WARM_UP),
        rss as f64 / (1024.0 * 1024.0)
    );
    server.stop();
    db.close().await?;
    Ok(())
}

/// The statements the server ran for one request of `url`: the growth of the sum of its
/// `pnode_view_statements` histogram in `/metrics` (nothing else runs on it meanwhile).
async fn statements_per_request(
    client: &reqwest::Client,
    addr: &str,
    url: &reqwest::Url,
) -> anyhow::Result<u64> {
    let before = view_statements(client, addr).await?;
    client
        .get(url.clone())
        .send()
        .await?
        .error_for_status()?
        .bytes()
        .await?;
    Ok(view_statements(client, addr).await? - before)
}

/// The sum of `pnode_view_statements` in the server's `/metrics`.
async fn view_statements(client: &reqwest::Client, addr: &str) -> anyhow::Result<u64> {
    let text = client
        .get(format!("http://{addr}/metrics"))
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    let sum = text
        .lines()
        .find_map(|line| line.strip_prefix("pnode_view_statements_sum "))
        .context("pnode_view_statements_sum in /metrics")?;
    Ok(sum.trim().parse::<f64>()? as u64)
}

/// `pnode-api serve` in a child process, so that its RSS is the server's alone.
struct ServerProcess {
    child: Child,
    addr: String,
}

impl ServerProcess {
    fn start(database_url: &str) -> anyhow::Result<Self> {
        use std::io::{BufRead, BufReader};
        let mut child = Command::new(std::env::current_exe()?)
            .arg("serve")
            .env("DATABASE_URL", database_url)
            .env("PNODE_BIND", "127.0.0.1:0")
            .env("PNODE_LOG_FORMAT", "json")
            .env("RUST_LOG", "warn,pnode_api::startup=info")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("start the server")?;
        let stdout = child.stdout.take().context("server stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let addr = loop {
            let Some(line) = lines.next().transpose()? else {
                bail!("the server exited before listening");
            };
            let line: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            if line["message"] == "listening" {
                break line["addr"]
                    .as_str()
                    .context("listening address")?
                    .to_owned();
            }
        };
        // Keep reading so the server never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Ok(Self { child, addr })
    }

    fn rss_bytes(&self) -> anyhow::Result<u64> {
        Ok(memory::proc_status_bytes(self.child.id(), "VmRSS")?)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}
