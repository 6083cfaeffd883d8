//! The server's own account of its memory, `GET /api/system/memory`.

use reqwest::Url;
use serde::Deserialize;

/// Where the server reports its memory, below the base URL.
pub const MEMORY_PATH: &str = "/api/system/memory";

/// One answer of [`MEMORY_PATH`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemorySample {
    /// The server's process id; a change means it restarted and the figures start over.
    pub pid: u32,
    /// Resident set size.
    pub rss_bytes: u64,
    /// Virtual memory size.
    pub virtual_bytes: u64,
    /// Heap bytes in use, when the server's allocator reports them.
    pub allocated_bytes: Option<u64>,
    /// Seconds since the server started.
    pub uptime_seconds: u64,
    /// The RSS above which the server raises its own alert.
    pub alert_bytes: u64,
    /// Whether the RSS is above `alert_bytes`.
    pub over_alert: bool,
}

/// Fetches one sample, or says why there is none.
pub async fn fetch(client: &reqwest::Client, url: &Url) -> Result<MemorySample, String> {
    let failed = |err| format!("GET {url}: {}", crate::load::describe(err));
    let response = client.get(url.clone()).send().await.map_err(failed)?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("GET {url} answered {status}"));
    }
    response.json().await.map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sample_reads_the_servers_camel_case_json_with_or_without_allocator_figures() {
        let sample: MemorySample = serde_json::from_str(
            r#"{"pid": 7, "rssBytes": 1048576, "virtualBytes": 4194304, "allocatedBytes": null,
                "uptimeSeconds": 12, "alertBytes": 536870912, "overAlert": false}"#,
        )
        .expect("the documented shape");

        assert_eq!((sample.pid, sample.rss_bytes), (7, 1_048_576));
        assert_eq!(sample.allocated_bytes, None);
        assert!(serde_json::from_str::<MemorySample>(r#"{"pid": 7}"#).is_err());
    }
}
