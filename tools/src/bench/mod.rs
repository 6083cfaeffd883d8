//! `pnode-api bench`: the view's cost measured end to end. It fills the configured database with a
//! generated network (unless it already holds one), starts the real server as a child process on
//! loopback (once with the view cache off, once with it on), drives it, and prints latency,
//! throughput, view statements and bytes per request, and the server's RSS; then, unless told not
//! to, a dashboard fleet: many clients revalidating while writes land. It contacts nothing but the
//! servers it started.

pub mod events;
mod fleet;
mod flood;
mod server;

use std::{sync::Arc, time::Instant};

use anyhow::Context;
use chrono::Utc;
use entity::pnode;
use reqwest::header::{ACCEPT_ENCODING, HeaderMap, HeaderValue, IF_NONE_MATCH};
use sea_orm::{
    ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect, TransactionTrait,
    sea_query::{Expr, ExprTrait},
};

use self::server::ServerProcess;
use crate::{
    generate::{self, Spec},
    load::{self, Tally},
};
use pnode_api::{
    app::config::Settings,
    db::{Database, version},
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
    #[command(flatten)]
    pub fleet: fleet::FleetArgs,
    #[command(flatten)]
    pub flood: flood::FloodArgs,
    #[command(flatten)]
    pub events: events::EventsArgs,
    /// What to measure: the view (`views`: uncached and cached scenarios, then the fleet), the
    /// history endpoints (`history`, uncached), pages under a flood of full views (`overload`),
    /// or live events (`events`: latency from commit to stream, memory per open stream).
    #[arg(long, value_enum, default_value_t = Group::Views)]
    pub group: Group,
}

/// A group of scenarios.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Group {
    Views,
    History,
    Overload,
    Events,
}

/// How a scenario's requests are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `requests` GETs at `concurrency`.
    Load,
    /// One GET at a time, each right after a write: what the first poller after a cycle waits.
    AfterWrite,
    /// `requests` GETs at `concurrency`, each with the ETag of the current answer.
    Revalidate,
}

struct Scenario {
    name: String,
    path: String,
    gzip: bool,
    mode: Mode,
}

fn scenario(name: &str, path: &str, gzip: bool, mode: Mode) -> Scenario {
    Scenario {
        name: name.to_owned(),
        path: path.to_owned(),
        gzip,
        mode,
    }
}

/// With the view cache off: every answer read from the database.
fn uncached() -> Vec<Scenario> {
    vec![
        scenario("full view", "/api/pnodes", false, Mode::Load),
        scenario("full view, gzip", "/api/pnodes", true, Mode::Load),
        scenario("page limit=100", "/api/pnodes?limit=100", false, Mode::Load),
    ]
}

/// With the default cache.
fn cached() -> Vec<Scenario> {
    vec![
        scenario("full view, cold", "/api/pnodes", false, Mode::AfterWrite),
        scenario("full view, warm", "/api/pnodes", false, Mode::Load),
        scenario("full view, warm, gzip", "/api/pnodes", true, Mode::Load),
        scenario("sorted page, cold", SORTED_PAGE, false, Mode::AfterWrite),
        scenario("sorted page, warm", SORTED_PAGE, false, Mode::Load),
        scenario("304, full view", "/api/pnodes", true, Mode::Revalidate),
        scenario("304, sorted page", SORTED_PAGE, true, Mode::Revalidate),
    ]
}

/// The history endpoints, uncached: `pubkey` is a node of the network, `to` the window's end.
fn history(pubkey: &str, to: chrono::DateTime<Utc>) -> Vec<Scenario> {
    let window = |hours: i64| {
        let at = |t: chrono::DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        format!(
            "from={}&to={}",
            at(to - chrono::Duration::hours(hours)),
            at(to)
        )
    };
    vec![
        scenario("network now", "/api/network", false, Mode::Load),
        scenario(
            "a seed's view, page",
            "/api/seeds/1/pnodes?limit=50&sort=uptime",
            false,
            Mode::Load,
        ),
        scenario("seeds", "/api/seeds", false, Mode::Load),
        scenario(
            "node history, 1 h",
            &format!("/api/pnodes/{pubkey}/history?{}", window(1)),
            false,
            Mode::Load,
        ),
        scenario(
            "node history, 16 h",
            &format!("/api/pnodes/{pubkey}/history?{}", window(16)),
            false,
            Mode::Load,
        ),
        scenario(
            "network history, 1 h",
            &format!("/api/network/history?{}", window(1)),
            false,
            Mode::Load,
        ),
        scenario(
            "network history, 16 h",
            &format!("/api/network/history?{}", window(16)),
            false,
            Mode::Load,
        ),
    ]
}

const SORTED_PAGE: &str = "/api/pnodes?limit=50&offset=100&sort=uptime&order=desc";
const WARM_UP: usize = 20;
/// Requests of a cold scenario (each after a write, one at a time).
const COLD_REQUESTS: usize = 30;

/// Runs the benchmark and prints its report.
pub async fn run(settings: &Settings, args: BenchArgs) -> anyhow::Result<()> {
    let db = Database::connect_migrated(&settings.database).await?;
    let existing = pnode::Entity::find().count(db.conn()).await?;
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
    let nodes = pnode::Entity::find().count(db.conn()).await?;
    let client = load::client(std::time::Duration::from_secs(120))?;
    if args.group == Group::Events {
        println!("backend: {:?}; {nodes} nodes", db.backend());
        events::run(settings.database.url(), &db, &args.events).await?;
        db.close().await?;
        return Ok(());
    }
    if args.group == Group::Overload {
        println!("backend: {:?}; {nodes} nodes", db.backend());
        flood::run(&client, settings.database.url(), &db, nodes, &args.flood).await?;
        db.close().await?;
        return Ok(());
    }
    println!(
        "backend: {:?}; {nodes} nodes; {} requests per scenario at concurrency {}",
        db.backend(),
        args.requests,
        args.concurrency
    );
    println!(
        "{:<24} {:>8} {:>9} {:>9} {:>9} {:>10} {:>12}",
        "scenario", "p50 ms", "p99 ms", "max ms", "req/s", "view stmts", "bytes/req"
    );
    let groups = match args.group {
        Group::Overload | Group::Events => Vec::new(),
        Group::Views => vec![("0", uncached()), ("64", cached())],
        Group::History => {
            let pubkey: String = pnode::Entity::find()
                .select_only()
                .column(pnode::Column::Pubkey)
                .into_tuple()
                .one(db.conn())
                .await?
                .context("a node")?;
            vec![("0", history(&pubkey, Utc::now()))]
        }
    };
    for (cache, scenarios) in groups {
        let server =
            ServerProcess::start(settings.database.url(), &[("PNODE_VIEW_CACHE_MB", cache)])?;
        println!("-- view cache {cache} MB");
        for scenario in &scenarios {
            measure(&client, &server, &db, nodes, &args, scenario).await?;
        }
        println!(
            "server RSS after these: {:.1} MiB",
            server.rss_bytes()? as f64 / (1024.0 * 1024.0)
        );
    }
    if args.group == Group::Views && args.fleet.seconds > 0 {
        let server = ServerProcess::start(settings.database.url(), &[])?;
        fleet::run(&client, &server, &db, nodes, &args.fleet).await?;
    }
    db.close().await?;
    Ok(())
}

async fn measure(
    client: &reqwest::Client,
    server: &ServerProcess,
    db: &Database,
    nodes: u64,
    args: &BenchArgs,
    scenario: &Scenario,
) -> anyhow::Result<()> {
    let url = reqwest::Url::parse(&format!("http://{}{}", server.addr, scenario.path))?;
    let mut headers = HeaderMap::new();
    if scenario.gzip {
        headers.insert(ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
    }
    let tally = Arc::new(Tally::default());
    let statements_before = view_statements(client, &server.addr).await?;
    let (run, requests) = match scenario.mode {
        Mode::AfterWrite => {
            let mut latencies = Vec::with_capacity(COLD_REQUESTS);
            let (mut bytes, started) = (0, Instant::now());
            for round in 0..COLD_REQUESTS {
                write_something(db, nodes, round as u64).await?;
                let sent = Instant::now();
                let answer = load::get(client, &url, &headers)
                    .await
                    .map_err(|err| anyhow::anyhow!(err))?;
                latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
                bytes += answer.bytes;
            }
            let run = load::Run {
                latencies: load::Latencies::from_ms(latencies),
                requests: COLD_REQUESTS,
                failed: 0,
                elapsed: started.elapsed(),
                bytes,
            };
            (run, COLD_REQUESTS)
        }
        Mode::Load | Mode::Revalidate => {
            if scenario.mode == Mode::Revalidate {
                let answer = load::get(client, &url, &headers)
                    .await
                    .map_err(|err| anyhow::anyhow!(err))?;
                let tag = answer.etag.context("an ETag")?;
                headers.insert(IF_NONE_MATCH, HeaderValue::from_str(&tag)?);
            }
            load::drive_with(client, &url, &headers, WARM_UP, args.concurrency, &tally).await?;
            let run = load::drive_with(
                client,
                &url,
                &headers,
                args.requests,
                args.concurrency,
                &tally,
            )
            .await?;
            (
                run,
                args.requests + WARM_UP + usize::from(scenario.mode == Mode::Revalidate),
            )
        }
    };
    if let Some(first) = tally.first_errors().first() {
        anyhow::bail!(
            "{} of {} requests failed, first: {first}",
            tally.failed(),
            tally.done()
        );
    }
    let statements = view_statements(client, &server.addr).await? - statements_before;
    let ms = |p| run.latencies.percentile(p).unwrap_or(f64::NAN);
    println!(
        "{:<24} {:>8.2} {:>9.2} {:>9.2} {:>9.1} {:>10.2} {:>12}",
        scenario.name,
        ms(0.50),
        ms(0.99),
        ms(1.0),
        run.per_second().unwrap_or(f64::NAN),
        statements as f64 / requests as f64,
        run.bytes / run.requests.max(1) as u64
    );
    Ok(())
}

/// A write as a collection cycle makes one: a node's credits change, and the data version with
/// them, in one transaction.
async fn write_something(db: &Database, nodes: u64, round: u64) -> anyhow::Result<()> {
    let txn = db.conn().begin().await?;
    let id = i64::try_from(1 + round % Ord::max(nodes, 1))?;
    pnode::Entity::update_many()
        .col_expr(
            pnode::Column::LatestCredits,
            Expr::col(pnode::Column::LatestCredits).add(1),
        )
        .filter(pnode::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    version::bump(&txn, Utc::now()).await?;
    txn.commit().await?;
    Ok(())
}

/// The sum of `pnode_view_statements` in the server's `/metrics`: statements run by view
/// requests (the data version's read, one per request, is not among them).
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
