//! The request driver `bench` and `soak` share: GETs of one URL, a fixed number in flight at once,
//! each answer a 2xx whose body is read whole. A failed request is counted and the run goes on,
//! so a long run reports every failure rather than stopping at the first.

use pnode_api::net::http::Outbound;
use reqwest::header::HeaderMap;
use std::{
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

/// How many error messages a [`Tally`] keeps; the rest are only counted.
pub const KEPT_ERRORS: usize = 5;

/// An HTTP client that goes only where it is told: the service's own outbound client
/// (`pnode_api::net::http`: redirects are not followed and no proxy is taken from the
/// environment, so every request reaches the URL it names and nothing else).
pub fn client(timeout: Duration) -> anyhow::Result<reqwest::Client> {
    Ok(Outbound::web_roots()?.client().timeout(timeout).build()?)
}

/// Counters the workers share, readable while they run (for progress lines).
#[derive(Debug, Default)]
pub struct Tally {
    done: AtomicUsize,
    failed: AtomicUsize,
    first_errors: Mutex<Vec<String>>,
}

impl Tally {
    /// Requests answered so far, well or not.
    pub fn done(&self) -> usize {
        self.done.load(Ordering::Relaxed)
    }

    /// Requests that failed so far.
    pub fn failed(&self) -> usize {
        self.failed.load(Ordering::Relaxed)
    }

    /// The first [`KEPT_ERRORS`] different failure messages, in the order they happened.
    pub fn first_errors(&self) -> Vec<String> {
        self.errors().clone()
    }

    fn succeeded(&self) {
        self.done.fetch_add(1, Ordering::Relaxed);
    }

    fn fail(&self, message: String) {
        let mut kept = self.errors();
        // A failing server tends to fail the same way every time: keep different messages.
        if kept.len() < KEPT_ERRORS && !kept.contains(&message) {
            kept.push(message);
        }
        // Counted under the lock, so that a reader never sees a count without its message.
        self.failed.fetch_add(1, Ordering::Relaxed);
        self.done.fetch_add(1, Ordering::Relaxed);
    }

    /// The kept messages, even after a worker panicked while holding them.
    fn errors(&self) -> std::sync::MutexGuard<'_, Vec<String>> {
        self.first_errors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Latencies in milliseconds, sorted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Latencies(Vec<f64>);

impl Latencies {
    /// Sorts `ms` (milliseconds, in any order).
    pub fn from_ms(mut ms: Vec<f64>) -> Self {
        ms.sort_by(f64::total_cmp);
        Self(ms)
    }

    /// The nearest-rank percentile, `p` from 0.0 to 1.0 (1.0 is the maximum); `None` when empty.
    pub fn percentile(&self, p: f64) -> Option<f64> {
        let index = ((self.0.len() as f64 - 1.0) * p.clamp(0.0, 1.0)).round() as usize;
        self.0.get(index).copied()
    }

    /// How many latencies there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// What one call of [`drive`] did.
#[derive(Debug, Clone)]
pub struct Run {
    /// The latencies of the requests that succeeded.
    pub latencies: Latencies,
    /// Requests sent, failed ones included.
    pub requests: usize,
    /// Requests that failed (status, transport, body or timeout).
    pub failed: usize,
    /// From the first request sent to the last answer read.
    pub elapsed: Duration,
    /// Body bytes received, as sent on the wire (compressed when the server compressed them).
    pub bytes: u64,
}

impl Run {
    /// Requests answered per second, failed ones included; `None` for an empty run.
    pub fn per_second(&self) -> Option<f64> {
        let seconds = self.elapsed.as_secs_f64();
        (self.requests > 0 && seconds > 0.0).then(|| self.requests as f64 / seconds)
    }
}

/// Sends `requests` GETs of `url`, `concurrency` at a time, counting each in `tally` as it ends.
/// Fails only if a worker task panicked; failed requests are in the [`Run`] and the tally.
pub async fn drive(
    client: &reqwest::Client,
    url: &reqwest::Url,
    requests: usize,
    concurrency: usize,
    tally: &Arc<Tally>,
) -> anyhow::Result<Run> {
    drive_with(client, url, &HeaderMap::new(), requests, concurrency, tally).await
}

/// As [`drive`], with `headers` on every request (a 304 counts as an answer).
pub async fn drive_with(
    client: &reqwest::Client,
    url: &reqwest::Url,
    headers: &HeaderMap,
    requests: usize,
    concurrency: usize,
    tally: &Arc<Tally>,
) -> anyhow::Result<Run> {
    let next = Arc::new(AtomicUsize::new(0));
    let failed_before = tally.failed();
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency.clamp(1, requests.max(1)))
        .map(|_| {
            let (client, url, headers) = (client.clone(), url.clone(), headers.clone());
            let (next, tally) = (Arc::clone(&next), Arc::clone(tally));
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut bytes = 0;
                while next.fetch_add(1, Ordering::Relaxed) < requests {
                    let sent = Instant::now();
                    match get(&client, &url, &headers).await {
                        Ok(answer) => {
                            latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
                            bytes += answer.bytes;
                            tally.succeeded();
                        }
                        Err(message) => tally.fail(message),
                    }
                }
                (latencies, bytes)
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(requests);
    let mut bytes = 0;
    for worker in workers {
        let (worker_latencies, worker_bytes) = worker.await?;
        latencies.extend(worker_latencies);
        bytes += worker_bytes;
    }
    Ok(Run {
        latencies: Latencies::from_ms(latencies),
        requests,
        failed: tally.failed() - failed_before,
        elapsed: started.elapsed(),
        bytes,
    })
}

/// What one request got.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: reqwest::StatusCode,
    /// Body bytes as received.
    pub bytes: u64,
    pub etag: Option<String>,
}

/// One GET with `headers`: a 2xx or 304 whose body reads whole, or why not.
pub async fn get(
    client: &reqwest::Client,
    url: &reqwest::Url,
    headers: &HeaderMap,
) -> Result<Answer, String> {
    let response = client
        .get(url.clone())
        .headers(headers.clone())
        .send()
        .await
        .map_err(|err| format!("GET {url}: {}", describe(err)))?;
    let status = response.status();
    let etag = response
        .headers()
        .get(reqwest::header::ETAG)
        .and_then(|tag| tag.to_str().ok())
        .map(str::to_owned);
    let body = response.bytes().await;
    match body {
        Err(err) => Err(format!("GET {url}: reading the body: {}", describe(err))),
        Ok(_) if !status.is_success() && status != reqwest::StatusCode::NOT_MODIFIED => {
            Err(format!("GET {url} answered {status}"))
        }
        Ok(body) => Ok(Answer {
            status,
            bytes: body.len() as u64,
            etag,
        }),
    }
}

/// The error with its causes ("connection refused" is a cause), without the URL the caller
/// already names.
pub fn describe(err: reqwest::Error) -> String {
    let err = err.without_url();
    let mut text = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_the_nearest_rank() {
        let latencies = Latencies::from_ms((0..=100).rev().map(f64::from).collect());

        assert_eq!(latencies.percentile(0.0), Some(0.0));
        assert_eq!(latencies.percentile(0.5), Some(50.0));
        assert_eq!(latencies.percentile(0.9), Some(90.0));
        assert_eq!(latencies.percentile(0.99), Some(99.0));
        assert_eq!(latencies.percentile(1.0), Some(100.0));
    }

    #[test]
    fn percentiles_of_nothing_are_none_and_of_one_value_that_value() {
        assert_eq!(Latencies::default().percentile(0.5), None);
        assert_eq!(Latencies::from_ms(vec![7.5]).percentile(0.99), Some(7.5));
    }

    #[test]
    fn a_tally_keeps_only_the_first_different_messages_but_counts_every_failure() {
        let tally = Tally::default();
        for i in 0..KEPT_ERRORS + 3 {
            tally.fail(format!("error {i}"));
        }
        tally.succeeded();

        assert_eq!(
            (tally.done(), tally.failed()),
            (KEPT_ERRORS + 4, KEPT_ERRORS + 3)
        );
        assert_eq!(tally.first_errors().len(), KEPT_ERRORS);
        assert_eq!(tally.first_errors()[..2], ["error 0", "error 1"]);
    }
}
