//! What a soak prints: a row per memory sample as it goes, then the summary and the verdict.

use std::{
    io::{self, Write},
    time::{Duration, Instant},
};

use super::memory::MemorySample;

const MIB: f64 = 1024.0 * 1024.0;

/// What a soak measured. Latency and throughput count only the requests after warm-up.
#[derive(Debug, Clone, PartialEq)]
pub struct SoakReport {
    /// Requests sent, warm-up included.
    pub requests: usize,
    /// Of those, the requests sent before the "after warm-up" memory baseline.
    pub warm_up: usize,
    /// Requests that failed: a status other than 2xx, a transport or body error, a timeout.
    pub request_errors: usize,
    /// Memory samples that failed (or found the server restarted).
    pub sample_errors: usize,
    /// The first few failure messages, requests' before samples'.
    pub first_errors: Vec<String>,
    /// RSS before the first request; `None` if that sample failed.
    pub rss_start_bytes: Option<u64>,
    /// RSS once the warm-up requests were answered.
    pub rss_after_warm_up_bytes: Option<u64>,
    /// RSS after the last request.
    pub rss_end_bytes: Option<u64>,
    /// Median latency in milliseconds; `None` when no request after warm-up succeeded.
    pub p50_ms: Option<f64>,
    /// 90th percentile latency in milliseconds.
    pub p90_ms: Option<f64>,
    /// 99th percentile latency in milliseconds.
    pub p99_ms: Option<f64>,
    /// Slowest latency in milliseconds.
    pub max_ms: Option<f64>,
    /// Requests answered per second.
    pub requests_per_second: Option<f64>,
    /// The whole run, samples included.
    pub elapsed: Duration,
}

impl SoakReport {
    /// Failed requests and failed samples together.
    pub fn errors(&self) -> usize {
        self.request_errors + self.sample_errors
    }

    /// RSS at the end minus RSS after warm-up (negative when it shrank).
    pub fn growth_bytes(&self) -> Option<i128> {
        let (after, end) = (self.rss_after_warm_up_bytes?, self.rss_end_bytes?);
        Some(i128::from(end) - i128::from(after))
    }

    /// [`Self::growth_bytes`] as a percentage of the RSS after warm-up.
    pub fn growth_pct(&self) -> Option<f64> {
        growth_pct(self.rss_after_warm_up_bytes?, self.rss_end_bytes?)
    }

    /// `Ok` when nothing failed and RSS grew by at most `max_growth_pct` percent after warm-up;
    /// otherwise every reason, on one line.
    pub fn verdict(&self, max_growth_pct: f64) -> Result<(), String> {
        let mut reasons = Vec::new();
        if self.errors() > 0 {
            reasons.push(format!(
                "errors: {} of {} requests and {} memory samples failed",
                self.request_errors, self.requests, self.sample_errors
            ));
        }
        match self.growth_pct() {
            Some(pct) if pct > max_growth_pct => reasons.push(format!(
                "growth: RSS grew {pct:.1} % after warm-up ({} to {} MiB), more than the {max_growth_pct} % allowed",
                mib(self.rss_after_warm_up_bytes),
                mib(self.rss_end_bytes)
            )),
            Some(_) => {}
            // A failed sample is already a reason; a zero baseline leaves growth unmeasurable.
            None if self.sample_errors == 0 => {
                reasons.push("growth: unknown, the server reported no RSS after warm-up".into())
            }
            None => {}
        }
        if reasons.is_empty() {
            Ok(())
        } else {
            Err(reasons.join("; "))
        }
    }

    /// Writes the summary: memory, latency, throughput and errors.
    pub fn write_summary(&self, out: &mut impl Write) -> io::Result<()> {
        let ms = |value: Option<f64>| value.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}"));
        writeln!(out)?;
        writeln!(
            out,
            "RSS at start        {:>10} MiB",
            mib(self.rss_start_bytes)
        )?;
        writeln!(
            out,
            "RSS after warm-up   {:>10} MiB",
            mib(self.rss_after_warm_up_bytes)
        )?;
        writeln!(
            out,
            "RSS at the end      {:>10} MiB",
            mib(self.rss_end_bytes)
        )?;
        let growth = self.growth_bytes().map(|b| b as f64 / MIB);
        let pct = self.growth_pct();
        writeln!(
            out,
            "growth after warm-up {:>9} MiB ({} %)",
            growth.map_or_else(|| "-".to_owned(), |g| format!("{g:+.1}")),
            pct.map_or_else(|| "-".to_owned(), |p| format!("{p:+.1}"))
        )?;
        writeln!(
            out,
            "latency after warm-up: p50 {} ms, p90 {} ms, p99 {} ms, max {} ms",
            ms(self.p50_ms),
            ms(self.p90_ms),
            ms(self.p99_ms),
            ms(self.max_ms)
        )?;
        writeln!(
            out,
            "requests: {} ({} warm-up), {} req/s after warm-up, in {:.1} s",
            self.requests,
            self.warm_up,
            self.requests_per_second
                .map_or_else(|| "-".to_owned(), |r| format!("{r:.1}")),
            self.elapsed.as_secs_f64()
        )?;
        writeln!(
            out,
            "errors: {} requests, {} memory samples",
            self.request_errors, self.sample_errors
        )?;
        for message in &self.first_errors {
            writeln!(out, "  {message}")?;
        }
        Ok(())
    }
}

/// Growth from `before` to `after` in percent of `before`; `None` when `before` is zero.
fn growth_pct(before: u64, after: u64) -> Option<f64> {
    (before > 0).then(|| (after as f64 - before as f64) * 100.0 / before as f64)
}

fn mib(bytes: Option<u64>) -> String {
    bytes.map_or_else(|| "-".to_owned(), |b| format!("{:.1}", b as f64 / MIB))
}

/// The table printed as the soak goes: a row per memory sample.
#[derive(Debug)]
pub(super) struct Table {
    started: Instant,
    /// Seconds and requests done at the previous row, for the rate since then.
    previous: Option<(f64, usize)>,
}

impl Table {
    /// Writes the header; elapsed time counts from now.
    pub(super) fn start(out: &mut impl Write) -> io::Result<Self> {
        writeln!(
            out,
            "{:>9} {:>9} {:>9} {:>9} {:>9} {:>7}",
            "elapsed s", "requests", "req/s", "RSS MiB", "alloc MiB", "errors"
        )?;
        Ok(Self {
            started: Instant::now(),
            previous: None,
        })
    }

    /// The time since the header.
    pub(super) fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Writes one row (flushed, so that a long run shows its progress).
    pub(super) fn row(
        &mut self,
        out: &mut impl Write,
        done: usize,
        errors: usize,
        sample: Option<&MemorySample>,
        note: &str,
    ) -> io::Result<()> {
        let seconds = self.elapsed().as_secs_f64();
        let rate = match self.previous {
            Some((then, before)) if seconds > then => {
                format!("{:.1}", (done - before) as f64 / (seconds - then))
            }
            _ => "-".to_owned(),
        };
        self.previous = Some((seconds, done));
        writeln!(
            out,
            "{seconds:>9.1} {done:>9} {rate:>9} {:>9} {:>9} {errors:>7}  {note}",
            mib(sample.map(|s| s.rss_bytes)),
            mib(sample.and_then(|s| s.allocated_bytes)),
        )?;
        out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(after: u64, end: u64) -> SoakReport {
        SoakReport {
            requests: 100,
            warm_up: 10,
            request_errors: 0,
            sample_errors: 0,
            first_errors: Vec::new(),
            rss_start_bytes: Some(after),
            rss_after_warm_up_bytes: Some(after),
            rss_end_bytes: Some(end),
            p50_ms: Some(1.0),
            p90_ms: Some(2.0),
            p99_ms: Some(3.0),
            max_ms: Some(4.0),
            requests_per_second: Some(100.0),
            elapsed: Duration::from_secs(1),
        }
    }

    #[test]
    fn growth_is_measured_from_the_warm_up_baseline() {
        assert_eq!(growth_pct(200, 250), Some(25.0));
        assert_eq!(growth_pct(200, 150), Some(-25.0));
        assert_eq!(growth_pct(0, 150), None);
        assert_eq!(report(1000, 900).growth_bytes(), Some(-100));
    }

    #[test]
    fn growth_up_to_the_allowance_passes_and_beyond_it_fails_naming_growth() {
        assert_eq!(report(1000, 1100).verdict(10.0), Ok(()));
        let err = report(1000, 1101).verdict(10.0).expect_err("10.1 % > 10 %");
        assert!(err.starts_with("growth: RSS grew 10.1 %"), "{err}");
    }

    #[test]
    fn any_failure_fails_the_verdict_even_without_growth() {
        let mut failed = report(1000, 1000);
        failed.sample_errors = 1;
        failed.rss_end_bytes = None;

        let err = failed.verdict(10.0).expect_err("a sample failed");
        assert_eq!(err, "errors: 0 of 100 requests and 1 memory samples failed");
    }
}
