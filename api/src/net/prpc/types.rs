//! What a pNode answers over pRPC, as typed values, and how they are read from JSON.
//!
//! Reading is lenient on purpose: real nodes send `null` for most fields, older versions omit
//! some, and numbers have been seen as floats and as numeric strings. A field that cannot be
//! read becomes `None`; only a `result` of the wrong overall shape is an error.

use crate::domain::text;
use serde_json::{Map, Value};

/// Which pods method produced an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodsMethod {
    /// `get-pods-with-stats` (nodes 0.7.0 and later).
    WithStats,
    /// `get-pods`, asked when the seed does not know `get-pods-with-stats`.
    Legacy,
}

impl PodsMethod {
    /// The pRPC method name.
    pub fn name(self) -> &'static str {
        match self {
            Self::WithStats => "get-pods-with-stats",
            Self::Legacy => "get-pods",
        }
    }
}

/// A seed's view of the gossip network.
#[derive(Debug, Clone, PartialEq)]
pub struct PodsAnswer {
    pub pods: Vec<Pod>,
    pub total_count: Option<u64>,
    pub method: PodsMethod,
    /// Entries of `pods` that were not objects or lacked a usable `address`: skipped and counted.
    pub malformed: usize,
}

/// One entry of a pods answer, as the seed reported it.
#[derive(Debug, Clone, PartialEq)]
pub struct Pod {
    /// The gossip address, like "62.84.180.240:9001".
    pub address: String,
    /// As given: the collector decides whether it is base58 of 32 bytes.
    pub pubkey: Option<String>,
    pub version: Option<String>,
    /// Unix seconds; a value > 1e12 is milliseconds and is divided by 1000; 0 or negative -> None.
    pub last_seen_timestamp: Option<i64>,
    pub is_public: Option<bool>,
    pub rpc_port: Option<u16>,
    pub storage_committed: Option<u64>,
    pub storage_used: Option<u64>,
    /// Already a percentage (0-100).
    pub storage_usage_percent: Option<f64>,
    pub uptime: Option<u64>,
}

/// What `get-stats` says a node thinks of itself.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeStats {
    pub active_streams: Option<u64>,
    pub cpu_percent: Option<f64>,
    pub current_index: Option<u64>,
    pub file_size: Option<u64>,
    /// Unix seconds; can be 0.
    pub last_updated: Option<u64>,
    /// Cumulative: resets when the node restarts.
    pub packets_received: Option<u64>,
    /// Cumulative: resets when the node restarts.
    pub packets_sent: Option<u64>,
    pub ram_total: Option<u64>,
    pub ram_used: Option<u64>,
    /// Cumulative: resets when the node restarts.
    pub total_bytes: Option<u64>,
    pub total_pages: Option<u64>,
    /// Seconds since the node's process started.
    pub uptime: Option<u64>,
}

/// Why a pRPC call gave no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum PrpcError {
    /// No complete answer within the client's timeout (connect included).
    #[error("no complete answer within the timeout")]
    Timeout,
    /// The node could not be reached, or the connection broke.
    #[error("cannot reach the node: {0}")]
    Connect(String),
    /// An HTTP status other than 2xx, without a JSON-RPC error in the body.
    #[error("HTTP status {0}")]
    HttpStatus(u16),
    /// The answer was longer than the client accepts (the limit, in bytes).
    #[error("the answer is larger than {0} bytes")]
    TooLarge(usize),
    /// The body is not JSON.
    #[error("the answer is not JSON: {0}")]
    NotJson(String),
    /// The node answered a JSON-RPC error.
    #[error("JSON-RPC error {code}: {message}")]
    Rpc { code: i64, message: String },
    /// JSON, but not shaped like the answer to the method asked.
    #[error("unexpected answer shape: {0}")]
    Shape(String),
}

impl PrpcError {
    /// A stable snake_case name, for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Connect(_) => "connect",
            Self::HttpStatus(_) => "http_status",
            Self::TooLarge(_) => "too_large",
            Self::NotJson(_) => "not_json",
            Self::Rpc { .. } => "rpc",
            Self::Shape(_) => "shape",
        }
    }

    /// Reads the `error` member of a JSON-RPC answer.
    pub(super) fn from_rpc_error(error: &Value) -> Self {
        Self::Rpc {
            code: error.get("code").and_then(lenient_i64).unwrap_or(0),
            // The node's own text, of any length: bounded before anyone logs or stores it.
            message: match error.get("message").and_then(Value::as_str) {
                Some(message) => text::bounded(message, text::MAX_ERROR_BYTES),
                None => text::bounded(&error.to_string(), text::MAX_ERROR_BYTES),
            },
        }
    }
}

impl PodsAnswer {
    /// Reads the `result` of `get-pods-with-stats` or `get-pods`.
    pub fn from_result(result: &Value, method: PodsMethod) -> Result<Self, PrpcError> {
        let object = result.as_object().ok_or_else(|| {
            PrpcError::Shape(format!("the {} result is not an object", method.name()))
        })?;
        let entries = object
            .get("pods")
            .and_then(Value::as_array)
            .ok_or_else(|| {
                PrpcError::Shape(format!("the {} result has no `pods` array", method.name()))
            })?;
        let mut pods = Vec::with_capacity(entries.len());
        let mut malformed = 0;
        for entry in entries {
            match entry.as_object().and_then(Pod::from_object) {
                Some(pod) => pods.push(pod),
                None => malformed += 1,
            }
        }
        Ok(Self {
            pods,
            total_count: object.get("total_count").and_then(lenient_u64),
            method,
            malformed,
        })
    }
}

impl Pod {
    /// Reads one pods entry; `None` when it has no usable `address`.
    fn from_object(entry: &Map<String, Value>) -> Option<Self> {
        let address = entry.get("address")?.as_str()?.trim();
        if address.is_empty() {
            return None;
        }
        let u64_field = |key: &str| entry.get(key).and_then(lenient_u64);
        Some(Self {
            address: address.to_owned(),
            pubkey: string_field(entry, "pubkey"),
            version: string_field(entry, "version"),
            last_seen_timestamp: entry
                .get("last_seen_timestamp")
                .and_then(lenient_i64)
                .and_then(unix_seconds),
            is_public: entry.get("is_public").and_then(lenient_bool),
            rpc_port: u64_field("rpc_port").and_then(|port| u16::try_from(port).ok()),
            storage_committed: u64_field("storage_committed"),
            storage_used: u64_field("storage_used"),
            storage_usage_percent: entry.get("storage_usage_percent").and_then(lenient_f64),
            uptime: u64_field("uptime"),
        })
    }
}

impl NodeStats {
    /// Reads the `result` of `get-stats`, which real nodes send flat (not nested as documented).
    pub fn from_result(result: &Value) -> Result<Self, PrpcError> {
        let stats = result
            .as_object()
            .ok_or_else(|| PrpcError::Shape("the get-stats result is not an object".into()))?;
        let u64_field = |key: &str| stats.get(key).and_then(lenient_u64);
        Ok(Self {
            active_streams: u64_field("active_streams"),
            cpu_percent: stats.get("cpu_percent").and_then(lenient_f64),
            current_index: u64_field("current_index"),
            file_size: u64_field("file_size"),
            last_updated: u64_field("last_updated"),
            packets_received: u64_field("packets_received"),
            packets_sent: u64_field("packets_sent"),
            ram_total: u64_field("ram_total"),
            ram_used: u64_field("ram_used"),
            total_bytes: u64_field("total_bytes"),
            total_pages: u64_field("total_pages"),
            uptime: u64_field("uptime"),
        })
    }
}

/// Reads the `result` of `get-version`.
pub(super) fn version_from_result(result: &Value) -> Result<String, PrpcError> {
    result
        .get("version")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| PrpcError::Shape("the get-version result has no `version` string".into()))
}

fn string_field(entry: &Map<String, Value>, key: &str) -> Option<String> {
    entry.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// Seconds stay; milliseconds (some clients guard against them) become seconds; 0 and negative
/// values mean "never" and become `None`.
fn unix_seconds(value: i64) -> Option<i64> {
    let seconds = if value > 1_000_000_000_000 {
        value / 1000
    } else {
        value
    };
    (seconds > 0).then_some(seconds)
}

/// A non-negative integer from a JSON integer, float or numeric string. Integers are read
/// without going through f64, so counters keep all 64 bits.
pub(super) fn lenient_u64(value: &Value) -> Option<u64> {
    match value {
        Value::Number(number) => number
            .as_u64()
            .or_else(|| number.as_f64().and_then(float_to_u64)),
        Value::String(text) => {
            let text = text.trim();
            text.parse::<u64>()
                .ok()
                .or_else(|| text.parse::<f64>().ok().and_then(float_to_u64))
        }
        _ => None,
    }
}

fn lenient_i64(value: &Value) -> Option<i64> {
    let from_float = |float: f64| {
        // The cast saturates; the range check keeps out values it would clamp.
        (float.is_finite() && float.abs() < 9.2e18).then_some(float as i64)
    };
    match value {
        Value::Number(number) => number
            .as_i64()
            .or_else(|| number.as_f64().and_then(from_float)),
        Value::String(text) => {
            let text = text.trim();
            text.parse::<i64>()
                .ok()
                .or_else(|| text.parse::<f64>().ok().and_then(from_float))
        }
        _ => None,
    }
}

fn lenient_f64(value: &Value) -> Option<f64> {
    let float = match value {
        Value::Number(number) => number.as_f64()?,
        Value::String(text) => text.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    float.is_finite().then_some(float)
}

fn lenient_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(flag) => Some(*flag),
        Value::String(text) => match text.trim() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn float_to_u64(float: f64) -> Option<u64> {
    // 2^64 is exactly representable; the range leaves out NaN, infinities and anything the cast
    // would saturate.
    (0.0..18_446_744_073_709_551_616.0)
        .contains(&float)
        .then_some(float as u64)
}
