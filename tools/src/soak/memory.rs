//! The server's own account of its memory, `GET /api/system/memory`.

use reqwest::Url;

/// Where the server reports its memory, below the base URL.
pub const MEMORY_PATH: &str = "/api/system/memory";

/// One answer of [`MEMORY_PATH`]: the server's own type, so that the two cannot drift apart.
pub use pnode_api::web::routes::memory::MemoryBody as MemorySample;

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
