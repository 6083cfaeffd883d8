//! `pnode-api bench --group events`: live events end to end. For each poll interval it starts the
//! server (not collecting), keeps one stream open, commits `--events` events one at a time as a
//! cycle's close does (with the data version, in one transaction) and measures how long each
//! takes to arrive on the stream; then opens `--streams` more streams and prints the server's RSS
//! before and after, and per stream.

use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use sea_orm::TransactionTrait;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use super::server::ServerProcess;
use crate::load;
use pnode_api::{
    db::{Database, version},
    push::events::{self, Change},
};

/// How many events and streams.
#[derive(Debug, Clone, clap::Args)]
pub struct EventsArgs {
    /// Events committed one at a time, each timed to its arrival (the `events` group).
    #[arg(long, default_value_t = 30)]
    pub events: usize,
    /// Streams opened to measure memory per stream.
    #[arg(long, default_value_t = 500)]
    pub streams: usize,
}

/// An open stream read by a task: each event's id as it arrives, with when.
struct Reader {
    arrivals: tokio::sync::mpsc::UnboundedReceiver<(i64, Instant)>,
}

impl Reader {
    async fn open(addr: &str) -> anyhow::Result<Self> {
        let mut socket = open_stream(addr).await?;
        let (tx, arrivals) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut buffer = Vec::new();
            let mut chunk = [0_u8; 8192];
            while let Ok(read) = socket.read(&mut chunk).await {
                if read == 0 {
                    break;
                }
                let at = Instant::now();
                buffer.extend_from_slice(&chunk[..read]);
                let text = String::from_utf8_lossy(&buffer).into_owned();
                let consumed = text.rfind("\n\n").map_or(0, |end| end + 2);
                for line in text[..consumed].lines() {
                    if let Some(id) = line.strip_prefix("id: ").and_then(|id| id.parse().ok()) {
                        let _ = tx.send((id, at));
                    }
                }
                buffer.drain(..consumed);
            }
        });
        Ok(Self { arrivals })
    }

    /// When event `id` arrived, waiting at most 10 s.
    async fn arrival_of(&mut self, id: i64) -> anyhow::Result<Instant> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let (seen, at) = tokio::time::timeout_at(deadline, self.arrivals.recv())
                .await
                .context("the event did not arrive within 10 s")?
                .context("the stream ended")?;
            if seen == id {
                return Ok(at);
            }
        }
    }
}

/// A connection that asked for `/api/events` and has its response head.
async fn open_stream(addr: &str) -> anyhow::Result<TcpStream> {
    let mut socket = TcpStream::connect(addr).await?;
    socket
        .write_all(format!("GET /api/events HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await?;
    let mut head = Vec::new();
    let mut byte = [0_u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if socket.read(&mut byte).await? == 0 {
            anyhow::bail!("the server closed the stream");
        }
        head.push(byte[0]);
    }
    anyhow::ensure!(
        head.starts_with(b"HTTP/1.1 200"),
        "the stream was refused: {}",
        String::from_utf8_lossy(&head)
    );
    Ok(socket)
}

/// One event committed as a cycle's close commits its events; its id.
async fn commit_one(db: &Database, round: usize) -> anyhow::Result<i64> {
    let now = Utc::now();
    let txn = db.conn().begin().await?;
    let change = Change::NodeReachability {
        pubkey: format!("bench{round}"),
        reachable: round.is_multiple_of(2),
    };
    let stored = events::record(&txn, "mainnet", vec![change], now).await?;
    version::bump(&txn, now).await?;
    txn.commit().await?;
    stored.first().map(|event| event.id).context("an event id")
}

pub async fn run(database_url: &str, db: &Database, args: &EventsArgs) -> anyhow::Result<()> {
    println!(
        "{:<14} {:>8} {:>8} {:>8} {:>10} {:>10} {:>12}",
        "poll interval", "p50 ms", "p90 ms", "max ms", "RSS MiB", "+streams", "KiB/stream"
    );
    for poll in ["1s", "100ms"] {
        let interval = humantime::parse_duration(poll)?;
        let streams = (args.streams + 10).to_string();
        let server = ServerProcess::start(
            database_url,
            &[
                ("PNODE_EVENTS_POLL_INTERVAL", poll),
                ("PNODE_EVENTS_MAX_CLIENTS", &streams),
            ],
        )?;
        let mut reader = Reader::open(&server.addr).await?;
        // Let the hub find where the table ends before the first event.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let mut latencies = Vec::with_capacity(args.events);
        for round in 0..args.events {
            let id = commit_one(db, round).await?;
            let committed = Instant::now();
            let arrived = reader.arrival_of(id).await?;
            latencies.push(arrived.saturating_duration_since(committed).as_secs_f64() * 1000.0);
            // The next commit lands at another phase of the poll (golden-ratio steps spread them
            // evenly), as a cycle's close lands at any time.
            let phase = (round as f64 * 0.618_033_988_75).fract();
            tokio::time::sleep(interval.mul_f64(phase)).await;
        }
        let latencies = load::Latencies::from_ms(latencies);
        let ms = |p| latencies.percentile(p).unwrap_or(f64::NAN);

        let before = server.rss_bytes()?;
        let mut open = Vec::with_capacity(args.streams);
        for _ in 0..args.streams {
            open.push(open_stream(&server.addr).await?);
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        let after = server.rss_bytes()?;
        let grown = after.saturating_sub(before);
        println!(
            "{:<14} {:>8.1} {:>8.1} {:>8.1} {:>10.1} {:>10} {:>12.1}",
            poll,
            ms(0.50),
            ms(0.90),
            ms(1.0),
            after as f64 / (1024.0 * 1024.0),
            args.streams,
            grown as f64 / 1024.0 / args.streams.max(1) as f64
        );
        drop(open);
    }
    Ok(())
}
