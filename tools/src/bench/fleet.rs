//! A dashboard fleet: many clients polling the full view, each revalidating with the ETag of its
//! last answer, while writes (as collection cycles make them) land at their own pace. What it
//! shows: how many polls cost a 304 and how many a body, their latencies, and the server's RSS.

use std::{sync::Arc, time::Duration};

use reqwest::{
    StatusCode,
    header::{ACCEPT_ENCODING, HeaderMap, HeaderValue, IF_NONE_MATCH},
};
use tokio::{sync::Mutex, time::Instant};

use super::{server::ServerProcess, view_statements, write_something};
use crate::load;
use pnode_api::db::Database;

/// The fleet's shape.
#[derive(Debug, Clone, clap::Args)]
pub struct FleetArgs {
    /// How long the fleet runs, in seconds (0: no fleet).
    #[arg(long = "fleet-seconds", default_value_t = 60)]
    pub seconds: u64,
    /// Clients polling at once.
    #[arg(long = "fleet-clients", default_value_t = 50)]
    pub clients: usize,
    /// Each client polls this often (dashboards: every 30 s).
    #[arg(long = "fleet-poll-every", default_value = "3s", value_parser = humantime::parse_duration)]
    pub poll_every: Duration,
    /// A write lands this often (the collector: every 60 s).
    #[arg(long = "fleet-write-every", default_value = "6s", value_parser = humantime::parse_duration)]
    pub write_every: Duration,
}

#[derive(Debug, Default)]
struct Polls {
    fresh: Vec<f64>,
    not_modified: Vec<f64>,
    bytes: u64,
    failed: usize,
}

/// Runs the fleet against `server` and prints what it saw.
pub async fn run(
    client: &reqwest::Client,
    server: &ServerProcess,
    db: &Database,
    nodes: u64,
    args: &FleetArgs,
) -> anyhow::Result<()> {
    let url = reqwest::Url::parse(&format!("http://{}/api/pnodes", server.addr))?;
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let polls = Arc::new(Mutex::new(Polls::default()));
    let statements_before = view_statements(client, &server.addr).await?;
    let clients: Vec<_> = (0..args.clients)
        .map(|index| {
            let (client, url, polls) = (client.clone(), url.clone(), Arc::clone(&polls));
            // Spread the clients over one poll interval, as independent dashboards are.
            let offset = args
                .poll_every
                .mul_f64(index as f64 / args.clients.max(1) as f64);
            let every = args.poll_every;
            tokio::spawn(async move {
                tokio::time::sleep(offset).await;
                let mut tag: Option<String> = None;
                let mut ticks = tokio::time::interval(every);
                while Instant::now() < deadline {
                    ticks.tick().await;
                    let mut headers = HeaderMap::new();
                    headers.insert(ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
                    if let Some(tag) = tag.as_deref().and_then(|t| HeaderValue::from_str(t).ok()) {
                        headers.insert(IF_NONE_MATCH, tag);
                    }
                    let sent = Instant::now();
                    let answer = load::get(&client, &url, &headers).await;
                    let ms = sent.elapsed().as_secs_f64() * 1000.0;
                    let mut polls = polls.lock().await;
                    match answer {
                        Ok(answer) if answer.status == StatusCode::NOT_MODIFIED => {
                            polls.not_modified.push(ms);
                        }
                        Ok(answer) => {
                            polls.fresh.push(ms);
                            polls.bytes += answer.bytes;
                            tag = answer.etag;
                        }
                        Err(_) => polls.failed += 1,
                    }
                }
            })
        })
        .collect();
    let mut writes = 0_u64;
    let mut ticks = tokio::time::interval(args.write_every);
    ticks.tick().await;
    while Instant::now() < deadline {
        ticks.tick().await;
        write_something(db, nodes, writes).await?;
        writes += 1;
    }
    for client in clients {
        client.await?;
    }
    let statements = view_statements(client, &server.addr).await? - statements_before;
    let polls = polls.lock().await;
    let total = polls.fresh.len() + polls.not_modified.len();
    let pct = |ms: &[f64], p: f64| {
        load::Latencies::from_ms(ms.to_vec())
            .percentile(p)
            .unwrap_or(f64::NAN)
    };
    let all: Vec<f64> = polls
        .fresh
        .iter()
        .chain(&polls.not_modified)
        .copied()
        .collect();
    println!(
        "-- fleet: {} clients polling every {:?} (gzip, If-None-Match), a write every {:?}, for {} s",
        args.clients, args.poll_every, args.write_every, args.seconds
    );
    println!(
        "polls {total} ({} failed), writes {writes}: 200 {} (p50 {:.2} ms, p99 {:.2} ms, {} bytes each), 304 {} (p50 {:.2} ms, p99 {:.2} ms); all p50 {:.2} ms, p99 {:.2} ms",
        polls.failed,
        polls.fresh.len(),
        pct(&polls.fresh, 0.5),
        pct(&polls.fresh, 0.99),
        polls.bytes / polls.fresh.len().max(1) as u64,
        polls.not_modified.len(),
        pct(&polls.not_modified, 0.5),
        pct(&polls.not_modified, 0.99),
        pct(&all, 0.5),
        pct(&all, 0.99),
    );
    println!(
        "view statements per poll: {:.3}; server RSS at the end: {:.1} MiB",
        statements as f64 / total.max(1) as f64,
        server.rss_bytes()? as f64 / (1024.0 * 1024.0)
    );
    Ok(())
}
