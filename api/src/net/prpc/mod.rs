//! A typed client for pRPC, the JSON-RPC API every pNode serves on `POST /rpc`.
//!
//! Every call is bounded twice: by a timeout that covers connecting and reading the whole
//! answer, and by a size cap enforced while the body streams in, so a misbehaving node can
//! neither hang a collection cycle nor make it allocate without limit.

mod types;

#[cfg(test)]
mod tests;

use std::time::Duration;

use serde_json::{Value, json};

pub use types::{NodeStats, Pod, PodsAnswer, PodsMethod, PrpcError};

use super::{
    http::{CappedRead, Outbound, error_chain},
    targets::StatsTarget,
};
use crate::domain::endpoint::BasicAuth;

/// Answers are refused above this size unless [`PrpcClient::with_max_answer_bytes`] says otherwise.
pub const DEFAULT_MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;

/// The JSON-RPC code of a node that does not know the method asked.
pub const METHOD_NOT_FOUND: i64 = -32601;

/// Idle connections are dropped sooner than servers usually close them, so that a reused
/// connection is rarely one the node has already given up on.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(2);

/// Calls pRPC methods on any node; cheap to clone (the connection pool is shared).
#[derive(Debug, Clone)]
pub struct PrpcClient {
    /// Building a reqwest client only fails when a TLS backend cannot start; `new` must not
    /// fail, so such an error is kept and returned by every call instead of panicking.
    http: Result<reqwest::Client, String>,
    timeout: Duration,
    max_answer_bytes: usize,
}

impl PrpcClient {
    /// A client over `outbound` (`crate::net::http`); the per-call timeout covers connect +
    /// whole answer.
    pub fn new(outbound: &Outbound, timeout: Duration) -> Self {
        let http = outbound
            .client()
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .build()
            .map_err(|err| format!("cannot build the HTTP client: {}", error_chain(&err)));
        Self {
            http,
            timeout,
            max_answer_bytes: DEFAULT_MAX_ANSWER_BYTES,
        }
    }

    /// Answers larger than this are refused (default 16 MiB).
    pub fn with_max_answer_bytes(self, bytes: usize) -> Self {
        Self {
            max_answer_bytes: bytes,
            ..self
        }
    }

    /// get-pods-with-stats, falling back to get-pods when the seed answers -32601; with `auth`,
    /// the seed's credentials (HTTP Basic).
    pub async fn pods(
        &self,
        base_url: &str,
        auth: Option<&BasicAuth>,
    ) -> Result<PodsAnswer, PrpcError> {
        let method = PodsMethod::WithStats;
        match self.call(base_url, method.name(), auth).await {
            Ok(result) => PodsAnswer::from_result(&result, method),
            Err(PrpcError::Rpc {
                code: METHOD_NOT_FOUND,
                ..
            }) => {
                tracing::debug!(
                    base_url,
                    "seed does not know get-pods-with-stats; asking get-pods"
                );
                let method = PodsMethod::Legacy;
                let result = self.call(base_url, method.name(), auth).await?;
                PodsAnswer::from_result(&result, method)
            }
            Err(err) => Err(err),
        }
    }

    /// get-stats of one node, at an address the allow-list let through (the only way to one).
    pub async fn stats(&self, target: &StatsTarget) -> Result<NodeStats, PrpcError> {
        let result = self.call(&target.url(), "get-stats", None).await?;
        NodeStats::from_result(&result)
    }

    /// get-version of a configured seed (`base_url` like "http://127.0.0.1:6000"): the version
    /// string as it gives it.
    pub async fn version(&self, base_url: &str) -> Result<String, PrpcError> {
        let result = self.call(base_url, "get-version", None).await?;
        types::version_from_result(&result)
    }

    /// Calls `method` and returns the JSON-RPC `result`, within the timeout.
    #[tracing::instrument(level = "debug", skip(self, auth))]
    async fn call(
        &self,
        base_url: &str,
        method: &str,
        auth: Option<&BasicAuth>,
    ) -> Result<Value, PrpcError> {
        let exchange = self.exchange(base_url, method, auth);
        let outcome = tokio::time::timeout(self.timeout, exchange).await;
        let result = outcome.unwrap_or(Err(PrpcError::Timeout));
        if let Err(err) = &result {
            tracing::debug!(kind = err.kind(), error = %err, "pRPC call failed");
        }
        result
    }

    async fn exchange(
        &self,
        base_url: &str,
        method: &str,
        auth: Option<&BasicAuth>,
    ) -> Result<Value, PrpcError> {
        let http = self
            .http
            .as_ref()
            .map_err(|err| PrpcError::Connect(err.clone()))?;
        let url = format!("{}/rpc", base_url.trim_end_matches('/'));
        let request = http
            .post(url)
            .json(&json!({"jsonrpc": "2.0", "method": method, "id": 1}));
        let mut response = super::http::authorized(request, auth)
            .send()
            .await
            .map_err(transport_error)?;
        let status = response.status();
        let body = read_capped(&mut response, self.max_answer_bytes).await?;
        if !status.is_success() {
            // Some JSON-RPC servers send their errors with a 4xx/5xx status: the JSON-RPC code
            // (e.g. -32601, which triggers the get-pods fallback) says more than the status.
            return Err(match answer_result(&body) {
                Err(err @ PrpcError::Rpc { .. }) => err,
                _ => PrpcError::HttpStatus(status.as_u16()),
            });
        }
        answer_result(&body)
    }
}

/// The body, at most `cap` bytes of it.
async fn read_capped(response: &mut reqwest::Response, cap: usize) -> Result<Vec<u8>, PrpcError> {
    super::http::read_capped(response, cap)
        .await
        .map_err(|err| match err {
            CappedRead::TooLarge => PrpcError::TooLarge(cap),
            CappedRead::Transport(err) => transport_error(err),
        })
}

/// Unwraps a JSON-RPC answer: its `result`, or its `error` as [`PrpcError::Rpc`].
fn answer_result(body: &[u8]) -> Result<Value, PrpcError> {
    let answer: Value =
        serde_json::from_slice(body).map_err(|err| PrpcError::NotJson(err.to_string()))?;
    let Value::Object(mut answer) = answer else {
        return Err(PrpcError::Shape(
            "the answer is not a JSON-RPC object".into(),
        ));
    };
    if let Some(error) = answer.get("error").filter(|error| !error.is_null()) {
        return Err(PrpcError::from_rpc_error(error));
    }
    match answer.remove("result") {
        Some(result) if !result.is_null() => Ok(result),
        _ => Err(PrpcError::Shape(
            "the answer has neither `result` nor `error`".into(),
        )),
    }
}

fn transport_error(err: reqwest::Error) -> PrpcError {
    if err.is_timeout() {
        PrpcError::Timeout
    } else {
        PrpcError::Connect(error_chain(&err))
    }
}
