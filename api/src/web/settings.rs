//! The HTTP layer's settings (part of `crate::app::config::Settings`).

use std::time::Duration;

use clap::{Args, builder::TypedValueParser as _};

use super::ratelimit::{ClientIpHeader, RateLimit, TrustedProxies};

/// What the HTTP layer keeps and whom it serves.
#[derive(Debug, Clone, Args)]
pub struct HttpSettings {
    /// Memory for answers cached per data version, in MB (MiB); 0 turns the cache off (every
    /// answer is then read from the database, and the full view streamed).
    #[arg(
        long = "view-cache-mb",
        env = "PNODE_VIEW_CACHE_MB",
        default_value_t = 64,
        global = true
    )]
    pub view_cache_mb: u64,

    /// Origins whose browser scripts may call the API: `*` (any; every route is a read-only
    /// GET), a comma-separated list like `https://dash.example.org`, or `none` (no CORS headers).
    #[arg(
        long = "cors-origins",
        env = "PNODE_CORS_ORIGINS",
        default_value = "*",
        global = true
    )]
    pub cors_origins: CorsOrigins,

    /// How long a client may accept no bytes of an answer before its connection is dropped,
    /// e.g. "30s" (a client that stops reading holds nothing for longer).
    #[arg(long = "http-write-timeout", env = "PNODE_HTTP_WRITE_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration, global = true)]
    pub write_timeout: Duration,

    /// How long a request's head (request line and headers) may take to arrive; 408 after it.
    #[arg(long = "http-request-timeout", env = "PNODE_HTTP_REQUEST_TIMEOUT", default_value = "5s", value_parser = humantime::parse_duration, global = true)]
    pub request_timeout: Duration,

    /// How long an idle keep-alive connection is kept open.
    #[arg(long = "http-keep-alive", env = "PNODE_HTTP_KEEP_ALIVE", default_value = "5s", value_parser = humantime::parse_duration, global = true)]
    pub keep_alive: Duration,

    /// Full views (every node in one answer) computed at once; answers already cached take none.
    #[arg(
        long = "full-view-concurrency",
        env = "PNODE_FULL_VIEW_CONCURRENCY",
        default_value_t = 2,
        value_parser = clap::value_parser!(u16).range(1..),
        global = true
    )]
    pub full_view_concurrency: u16,

    /// How long a full view waits for its turn before it is answered 503 with `Retry-After`.
    #[arg(long = "full-view-wait", env = "PNODE_FULL_VIEW_WAIT", default_value = "2s", value_parser = humantime::parse_duration, global = true)]
    pub full_view_wait: Duration,

    /// Connections open at once in the whole process (every worker); more are answered 503 and
    /// closed at once. Each holds at most a 16 KiB request head and actix's buffers (README,
    /// "Threat model").
    #[arg(
        id = "http_max_connections",
        long = "http-max-connections",
        env = "PNODE_HTTP_MAX_CONNECTIONS",
        default_value_t = 10_000,
        value_parser = clap::value_parser!(u32).range(1..).map(|max| max as usize),
        global = true
    )]
    pub max_connections: usize,

    /// Requests per client address and period, e.g. `1200/min`, `20/s`, `10000/h` (the burst is
    /// the same number); a full view or CSV export counts 10, a 304 and /api/health 0; `0`: off.
    #[arg(
        long = "rate-limit",
        env = "PNODE_RATE_LIMIT",
        default_value = "1200/min",
        global = true
    )]
    pub rate_limit: RateLimit,

    /// CIDRs of the reverse proxies whose `X-Forwarded-For` / `Forwarded` say who the client is
    /// (no one else's are believed), comma-separated; empty: none.
    #[arg(
        long = "trusted-proxies",
        env = "PNODE_TRUSTED_PROXIES",
        default_value = "",
        global = true
    )]
    pub trusted_proxies: TrustedProxies,

    /// The header the trusted proxies append the client's address to: `X-Forwarded-For` or
    /// `Forwarded` (only that one is read: a client could write the other itself).
    #[arg(
        long = "client-ip-header",
        env = "PNODE_CLIENT_IP_HEADER",
        default_value = "X-Forwarded-For",
        global = true
    )]
    pub client_ip_header: ClientIpHeader,
}
/// Who may call the API from a browser on another origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigins {
    Any,
    Only(Vec<String>),
    None,
}

impl std::str::FromStr for CorsOrigins {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim() {
            "*" => Ok(Self::Any),
            "none" | "" => Ok(Self::None),
            list => {
                let origins: Vec<String> = list
                    .split(',')
                    .map(|origin| origin.trim().trim_end_matches('/').to_owned())
                    .filter(|origin| !origin.is_empty())
                    .collect();
                for origin in &origins {
                    let url = url::Url::parse(origin)
                        .map_err(|err| format!("{origin:?} is not an origin: {err}"))?;
                    if !matches!(url.scheme(), "http" | "https") || url.path() != "/" {
                        return Err(format!(
                            "{origin:?} is not an origin like https://dash.example.org"
                        ));
                    }
                }
                Ok(Self::Only(origins))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cors_origins_read_any_a_list_or_none() {
        assert_eq!("*".parse(), Ok(CorsOrigins::Any));
        assert_eq!("none".parse(), Ok(CorsOrigins::None));
        assert_eq!(
            "https://a.example, http://127.0.0.1:3000/".parse(),
            Ok(CorsOrigins::Only(vec![
                "https://a.example".into(),
                "http://127.0.0.1:3000".into()
            ]))
        );
        assert!("a.example".parse::<CorsOrigins>().is_err());
        assert!("https://a.example/path".parse::<CorsOrigins>().is_err());
        assert_eq!(HttpSettings::default().view_cache_mb, 64);
    }
}
