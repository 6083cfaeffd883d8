//! `pnode-api soak`: drives a running server with many GETs of one path while sampling the memory
//! it reports, to show whether its RSS keeps growing once warm. It contacts only the server named
//! by `--url`, and needs no database.

mod memory;
mod report;
mod target;

use std::{io::Write, sync::Arc, time::Duration};

use anyhow::ensure;
use reqwest::Url;
use tokio::time::{Interval, MissedTickBehavior};

pub use memory::{MEMORY_PATH, MemorySample};
pub use report::SoakReport;
pub use target::BaseUrl;

use crate::load::{self, KEPT_ERRORS, Tally};
use report::Table;
use target::request_path;

/// How long one request or memory sample may take before it counts as failed.
const TIMEOUT: Duration = Duration::from_secs(30);

/// What to drive, how hard, and how much memory growth to tolerate.
#[derive(Debug, Clone, clap::Args)]
pub struct SoakArgs {
    /// The running server, e.g. http://127.0.0.1:8080; nothing else is contacted.
    // Its own id: `url` is already the global --database-url's.
    #[arg(id = "soak_url", long = "url", value_name = "URL")]
    pub url: BaseUrl,
    /// GETs to send in all, warm-up included.
    #[arg(long, default_value_t = 10_000, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub requests: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 8, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub concurrency: usize,
    /// The path to GET, query included, e.g. "/api/pnodes?limit=100".
    #[arg(long, default_value = "/api/pnodes", value_parser = request_path)]
    pub path: String,
    /// Time between two memory samples, e.g. "5s" (besides those at the start, after warm-up and at
    /// the end).
    #[arg(long, default_value = "5s", value_parser = sample_interval)]
    pub sample_every: Duration,
    /// Requests sent before the memory baseline; latency counts only those after it (default: a
    /// tenth of --requests, at least 1).
    #[arg(long)]
    pub warm_up: Option<usize>,
    /// Most RSS growth allowed from the baseline to the end, in percent.
    #[arg(long, default_value_t = 10.0)]
    pub max_growth: f64,
}

impl SoakArgs {
    /// The warm-up requests: `--warm-up`, or a tenth of the requests (at least 1), never more
    /// than the requests.
    pub fn warm_up(&self) -> usize {
        self.warm_up
            .unwrap_or_else(|| (self.requests / 10).max(1))
            .min(self.requests)
    }

    /// What clap checks, checked again for arguments built in code.
    fn check(&self) -> anyhow::Result<()> {
        ensure!(self.requests > 0, "--requests must be at least 1");
        ensure!(self.concurrency > 0, "--concurrency must be at least 1");
        ensure!(
            !self.sample_every.is_zero(),
            "--sample-every must be more than 0"
        );
        ensure!(
            self.max_growth.is_finite() && self.max_growth >= 0.0,
            "--max-growth must be a percentage of 0 or more"
        );
        Ok(())
    }
}

/// A humantime duration longer than zero (a zero period would sample without pause).
fn sample_interval(text: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text) {
        Ok(duration) if duration.is_zero() => Err("must be more than 0".to_owned()),
        Ok(duration) => Ok(duration),
        Err(err) => Err(err.to_string()),
    }
}

/// Runs the soak, writing the table and the summary to `out` as it goes. Fails only when it
/// cannot run at all (bad arguments, `out` not writable); failed requests and samples are in the
/// report, for [`SoakReport::verdict`] to judge.
pub async fn run(args: &SoakArgs, out: &mut impl Write) -> anyhow::Result<SoakReport> {
    args.check()?;
    let target = args.url.endpoint(&args.path).map_err(anyhow::Error::msg)?;
    let memory_url = args.url.endpoint(MEMORY_PATH).map_err(anyhow::Error::msg)?;
    let warm_up = args.warm_up();
    writeln!(
        out,
        "soak: {} GETs of {target} ({} in flight, the first {warm_up} to warm up); memory from {memory_url} every {}",
        args.requests,
        args.concurrency,
        humantime::format_duration(args.sample_every)
    )?;
    let mut soak = Soak {
        client: load::client(TIMEOUT)?,
        memory_url,
        concurrency: args.concurrency,
        tally: Arc::new(Tally::default()),
        table: Table::start(out)?,
        out,
        sample_errors: 0,
        sample_messages: Vec::new(),
        pid: None,
    };
    let start = tokio::time::Instant::now() + args.sample_every;
    let mut ticks = tokio::time::interval_at(start, args.sample_every);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);

    let rss_start_bytes = soak.sample("start").await?;
    soak.phase(&target, warm_up, &mut ticks).await?;
    let rss_after_warm_up_bytes = soak.sample("after warm-up").await?;
    let measured = soak
        .phase(&target, args.requests - warm_up, &mut ticks)
        .await?;
    let rss_end_bytes = soak.sample("end").await?;

    let latencies = &measured.latencies;
    let mut first_errors = soak.tally.first_errors();
    first_errors.extend(soak.sample_messages);
    first_errors.truncate(KEPT_ERRORS);
    let report = SoakReport {
        requests: soak.tally.done(),
        warm_up,
        request_errors: soak.tally.failed(),
        sample_errors: soak.sample_errors,
        first_errors,
        rss_start_bytes,
        rss_after_warm_up_bytes,
        rss_end_bytes,
        p50_ms: latencies.percentile(0.50),
        p90_ms: latencies.percentile(0.90),
        p99_ms: latencies.percentile(0.99),
        max_ms: latencies.percentile(1.0),
        requests_per_second: measured.per_second(),
        elapsed: soak.table.elapsed(),
    };
    let out = soak.out;
    report.write_summary(out)?;
    match report.verdict(args.max_growth) {
        Ok(()) => writeln!(out, "verdict: passed")?,
        Err(reasons) => writeln!(out, "verdict: failed: {reasons}")?,
    }
    Ok(report)
}

/// A soak under way.
struct Soak<'o, W> {
    client: reqwest::Client,
    memory_url: Url,
    concurrency: usize,
    tally: Arc<Tally>,
    table: Table,
    out: &'o mut W,
    sample_errors: usize,
    sample_messages: Vec<String>,
    /// The server's pid at the first sample: a later one that differs means a restart.
    pid: Option<u32>,
}

impl<W: Write> Soak<'_, W> {
    /// Sends `requests` GETs of `url`, sampling memory on every tick until they are answered.
    async fn phase(
        &mut self,
        url: &Url,
        requests: usize,
        ticks: &mut Interval,
    ) -> anyhow::Result<load::Run> {
        // Own handles, so that the drive does not borrow `self` while a tick samples.
        let (client, tally) = (self.client.clone(), Arc::clone(&self.tally));
        let mut drive = std::pin::pin!(load::drive(
            &client,
            url,
            requests,
            self.concurrency,
            &tally
        ));
        loop {
            tokio::select! {
                run = &mut drive => return run,
                _ = ticks.tick() => {
                    self.sample("").await?;
                }
            }
        }
    }

    /// Samples memory and writes a row; the RSS, or `None` (counted as an error) if it failed.
    async fn sample(&mut self, note: &str) -> std::io::Result<Option<u64>> {
        let sample = memory::fetch(&self.client, &self.memory_url)
            .await
            .and_then(|sample| self.same_process(sample));
        let sample = match sample {
            Ok(sample) => Some(sample),
            Err(message) => {
                self.sample_errors += 1;
                if self.sample_messages.len() < KEPT_ERRORS
                    && !self.sample_messages.contains(&message)
                {
                    self.sample_messages.push(message);
                }
                None
            }
        };
        let errors = self.tally.failed() + self.sample_errors;
        self.table
            .row(self.out, self.tally.done(), errors, sample.as_ref(), note)?;
        Ok(sample.map(|sample| sample.rss_bytes))
    }

    /// The sample, unless it comes from another process than the first one did: a restarted
    /// server starts its memory over, which would hide any growth.
    fn same_process(&mut self, sample: MemorySample) -> Result<MemorySample, String> {
        match self.pid.replace(sample.pid) {
            Some(pid) if pid != sample.pid => Err(format!(
                "the server restarted: pid {pid} became {}",
                sample.pid
            )),
            _ => Ok(sample),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(requests: usize, warm_up: Option<usize>) -> SoakArgs {
        SoakArgs {
            url: "http://127.0.0.1:9".parse().expect("valid"),
            requests,
            concurrency: 1,
            path: "/api/pnodes".to_owned(),
            sample_every: Duration::from_secs(5),
            warm_up,
            max_growth: 10.0,
        }
    }

    #[test]
    fn the_default_warm_up_is_a_tenth_of_the_requests_and_at_least_one() {
        assert_eq!(args(10_000, None).warm_up(), 1000);
        assert_eq!(args(25, None).warm_up(), 2);
        assert_eq!(args(5, None).warm_up(), 1);
        assert_eq!(args(1, None).warm_up(), 1);
        assert_eq!(args(100, Some(30)).warm_up(), 30);
        assert_eq!(args(100, Some(500)).warm_up(), 100);
    }

    #[test]
    fn a_zero_sample_interval_is_refused() {
        assert!(sample_interval("0s").is_err());
        assert!(sample_interval("soon").is_err());
        assert_eq!(sample_interval("250ms"), Ok(Duration::from_millis(250)));
    }
}
