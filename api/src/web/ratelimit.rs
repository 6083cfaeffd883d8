//! Rate limits per client address (`PNODE_RATE_LIMIT`, e.g. `1200/min`: that many requests a
//! period, the same as the burst), so that no one client takes the service's capacity. A request
//! weighs what it costs: a full view or a CSV export 10, most others 1; `/api/health`,
//! `/metrics` (load balancers and scrapers poll them) and a revalidation answered `304` nothing. Over its budget a client gets `429` (`rate_limited`)
//! with `Retry-After`; every counted answer says `RateLimit-Limit`, `RateLimit-Remaining` and
//! `RateLimit-Reset` (draft-ietf-httpapi-ratelimit-headers).
//!
//! The client is the connection's peer, or, when that peer is one of `PNODE_TRUSTED_PROXIES`,
//! the nearest address before it in `X-Forwarded-For` (or `Forwarded`) that is not one of them.
//! IPv6 clients are counted by their /64 (one host holds a whole /64). The limiter's memory is
//! bounded whatever addresses clients use: idle clients are forgotten, and while more than
//! [`MAX_CLIENTS`] are remembered (idle ones are swept out at most once a second) every request
//! shares one budget.
//!
//! A revalidation (`If-None-Match`) is let through for free, and charged its weight afterwards
//! when it was not a `304`; a client whose charge then does not fit pays up front from then on,
//! for a period.

use std::{
    collections::HashMap,
    net::{IpAddr, SocketAddr},
    num::NonZeroU32,
    str::FromStr,
    sync::{
        Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use actix_web::{
    Error, HttpResponse,
    body::{BoxBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::{
        StatusCode,
        header::{self, HeaderMap, HeaderName, HeaderValue},
    },
    middleware::Next,
    web,
};
use governor::{
    Quota, RateLimiter,
    clock::{Clock, DefaultClock},
    middleware::StateInformationMiddleware,
    state::keyed::DashMapStateStore,
};
use ipnet::IpNet;
use prometheus_client::{metrics::counter::Counter, registry::Registry};

use crate::web::error::ErrorBody;

/// Clients remembered at most; past it, requests share one budget (a few tens of bytes each:
/// a few MiB at this bound, BENCHMARKS.md).
pub(crate) const MAX_CLIENTS: usize = 100_000;

/// Requests between two sweeps of idle clients.
const SWEEP_EVERY: u64 = 10_000;

/// The least time between two sweeps (each walks every client remembered).
const SWEEP_GAP: Duration = Duration::from_secs(1);

/// The weight of a full view or a CSV export, in requests.
pub(crate) const HEAVY: u32 = 10;

pub(crate) const LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
pub(crate) const REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
pub(crate) const RESET: HeaderName = HeaderName::from_static("ratelimit-reset");

/// `PNODE_RATE_LIMIT`: `N/s`, `N/min` or `N/h`, or `0` (no limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit(Option<(NonZeroU32, Duration)>);

impl RateLimit {
    /// No limit.
    pub const OFF: Self = Self(None);

    fn quota(self) -> Option<Quota> {
        let (requests, period) = self.0?;
        let quota = Quota::with_period(period / requests.get())?;
        Some(quota.allow_burst(requests))
    }
}

impl FromStr for RateLimit {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text == "0" || text == "off" {
            return Ok(Self::OFF);
        }
        let refuse = || format!("{text:?} is not a rate like 1200/min, 20/s or 10000/h (or 0)");
        let (requests, period) = text.split_once('/').ok_or_else(refuse)?;
        let requests: NonZeroU32 = requests.trim().parse().map_err(|_| refuse())?;
        let period = match period.trim() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            _ => return Err(refuse()),
        };
        if period.as_nanos() < u128::from(requests.get()) {
            return Err(refuse());
        }
        Ok(Self(Some((requests, period))))
    }
}

/// `PNODE_TRUSTED_PROXIES`: CIDRs whose `X-Forwarded-For` / `Forwarded` are believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }
}

impl FromStr for TrustedProxies {
    type Err = String;

    fn from_str(list: &str) -> Result<Self, String> {
        list.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| {
                item.parse::<IpNet>()
                    .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                    .map(|net| net.trunc())
                    .map_err(|_| format!("{item:?} is not a CIDR like 10.0.0.0/8"))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }
}

/// Whom a budget belongs to: an IPv4 address, an IPv6 /64, or, past [`MAX_CLIENTS`], every
/// newcomer together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum ClientKey {
    V4(u32),
    V6(u64),
    Newcomers,
}

impl From<IpAddr> for ClientKey {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Self::V4(u32::from(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self::V4(u32::from(v4)),
                None => Self::V6((u128::from(v6) >> 64) as u64),
            },
        }
    }
}

type Keyed =
    RateLimiter<ClientKey, DashMapStateStore<ClientKey>, DefaultClock, StateInformationMiddleware>;

/// What a request is allowed, for its response's headers.
#[derive(Debug, Clone, Copy)]
struct Budget {
    remaining: u32,
    reset: Duration,
}

/// See the module documentation.
#[derive(Debug)]
pub(crate) struct ClientLimiter {
    keyed: Option<Keyed>,
    quota: Option<Quota>,
    trusted: TrustedProxies,
    clock: DefaultClock,
    /// Clients whose after-the-fact charge did not fit, until when they pay up front.
    owing: Mutex<HashMap<ClientKey, Instant>>,
    requests: AtomicU64,
    last_sweep: Mutex<Instant>,
    limited: Counter,
}

impl ClientLimiter {
    pub(crate) fn new(limit: RateLimit, trusted: TrustedProxies) -> Self {
        let quota = limit.quota();
        Self {
            keyed: quota.map(|quota| RateLimiter::dashmap(quota).with_middleware()),
            quota,
            trusted,
            clock: DefaultClock::default(),
            owing: Mutex::new(HashMap::new()),
            requests: AtomicU64::new(0),
            last_sweep: Mutex::new(Instant::now()),
            limited: Counter::default(),
        }
    }

    /// Registers `rate_limited` (requests answered 429).
    pub(crate) fn register(&self, registry: &mut Registry) {
        registry.register(
            "rate_limited",
            "Requests answered 429: their client was over PNODE_RATE_LIMIT",
            self.limited.clone(),
        );
    }

    /// Clients remembered now.
    #[cfg(test)]
    fn clients(&self) -> usize {
        self.keyed.as_ref().map_or(0, RateLimiter::len)
    }

    /// The budget `peer`'s request (its `headers`) is counted against.
    fn key(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> Option<ClientKey> {
        let peer = peer?;
        let client = if self.trusted.trusts(peer) {
            forwarded_client(headers, &self.trusted).unwrap_or(peer)
        } else {
            peer
        };
        let key = ClientKey::from(client);
        let keyed = self.keyed.as_ref()?;
        let due = self.requests.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1;
        if due || keyed.len() >= MAX_CLIENTS {
            self.sweep();
        }
        if keyed.len() >= MAX_CLIENTS {
            return Some(ClientKey::Newcomers);
        }
        Some(key)
    }

    /// Forgets clients whose budget is full again (they are as if new), and owed charges past;
    /// at most once per [`SWEEP_GAP`].
    fn sweep(&self) {
        {
            let mut last = self
                .last_sweep
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if last.elapsed() < SWEEP_GAP {
                return;
            }
            *last = Instant::now();
        }
        if let Some(keyed) = &self.keyed {
            keyed.retain_recent();
            keyed.shrink_to_fit();
        }
        let now = Instant::now();
        let mut owing = self.owing.lock().unwrap_or_else(PoisonError::into_inner);
        owing.retain(|_, until| *until > now);
        owing.shrink_to_fit();
    }

    /// Charges `weight` to `key`: the budget left (`None` when nothing was charged), or how long
    /// until the request would fit.
    fn charge(&self, key: ClientKey, weight: u32) -> Result<Option<Budget>, Duration> {
        let (Some(keyed), Some(quota)) = (&self.keyed, self.quota) else {
            return Ok(None);
        };
        let Some(weight) = NonZeroU32::new(weight) else {
            return Ok(None);
        };
        match keyed.check_key_n(&key, weight) {
            Ok(Ok(snapshot)) => {
                let remaining = snapshot.remaining_burst_capacity();
                Ok(Some(Budget {
                    remaining,
                    reset: refill(quota, remaining),
                }))
            }
            Ok(Err(not_until)) => Err(not_until.wait_time_from(self.clock.now())),
            // More than the whole burst: it never fits; come back after a full period.
            Err(_) => Err(quota.burst_size_replenished_in()),
        }
    }

    fn owes(&self, key: ClientKey) -> bool {
        let owing = self.owing.lock().unwrap_or_else(PoisonError::into_inner);
        owing.get(&key).is_some_and(|until| *until > Instant::now())
    }

    fn mark_owing(&self, key: ClientKey) {
        let Some(quota) = self.quota else { return };
        let mut owing = self.owing.lock().unwrap_or_else(PoisonError::into_inner);
        if owing.len() < MAX_CLIENTS {
            owing.insert(key, Instant::now() + quota.burst_size_replenished_in());
        }
    }

    fn limit(&self) -> Option<u32> {
        self.quota.map(|quota| quota.burst_size().get())
    }
}

/// How long until a budget with `remaining` left is full again.
fn refill(quota: Quota, remaining: u32) -> Duration {
    let missing = quota.burst_size().get().saturating_sub(remaining);
    quota.replenish_interval() * missing
}

/// The nearest address before the trusted proxies in `X-Forwarded-For`, else in `Forwarded`.
fn forwarded_client(headers: &HeaderMap, trusted: &TrustedProxies) -> Option<IpAddr> {
    let x_forwarded_for = headers
        .get_all(HeaderName::from_static("x-forwarded-for"))
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|item| item.trim().to_owned())
        .collect::<Vec<_>>();
    let forwarded = || {
        headers
            .get_all(header::FORWARDED)
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .filter_map(|element| {
                element.split(';').find_map(|pair| {
                    let (name, value) = pair.trim().split_once('=')?;
                    name.eq_ignore_ascii_case("for")
                        .then(|| value.trim().trim_matches('"').to_owned())
                })
            })
            .collect::<Vec<_>>()
    };
    let hops = if x_forwarded_for.is_empty() {
        forwarded()
    } else {
        x_forwarded_for
    };
    // From the nearest hop back: the first one not a trusted proxy is the client.
    hops.iter()
        .rev()
        .filter_map(|hop| parse_hop(hop))
        .find(|ip| !trusted.trusts(*ip))
}

/// `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1` or `[2001:db8::1]:5678`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|addr| addr.ip()))
        .or_else(|| {
            hop.strip_prefix('[')
                .and_then(|rest| rest.split_once(']'))
                .and_then(|(ip, _)| ip.parse().ok())
        })
}

/// What a request weighs before it is answered (a revalidation is charged after).
fn weight(req: &ServiceRequest) -> u32 {
    let path = req.path();
    if path == "/api/health" || path == "/metrics" {
        return 0;
    }
    let query = req.query_string();
    let csv = query.split('&').any(|pair| pair == "format=csv")
        || req
            .headers()
            .get(header::ACCEPT)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|accept| accept.contains("text/csv"));
    let lists_nodes =
        path == "/api/pnodes" || (path.starts_with("/api/seeds/") && path.ends_with("/pnodes"));
    let paged = query.split('&').any(|pair| pair.starts_with("limit="));
    if csv || (lists_nodes && !paged) {
        HEAVY
    } else {
        1
    }
}

/// Middleware: see the module documentation.
pub(crate) async fn limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let Some(limiter) = req.app_data::<web::Data<ClientLimiter>>().cloned() else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let peer = req.peer_addr().map(|addr| addr.ip());
    let Some(key) = limiter.key(peer, req.headers()) else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let weight = weight(&req);
    let revalidation = req.headers().contains_key(header::IF_NONE_MATCH);
    let up_front = if revalidation && !limiter.owes(key) {
        0
    } else {
        weight
    };
    let budget = match limiter.charge(key, up_front) {
        Ok(budget) => budget,
        Err(wait) => {
            limiter.limited.inc();
            let response = too_many(&limiter, wait);
            return Ok(req.into_response(response));
        }
    };
    let mut response = next.call(req).await?.map_into_boxed_body();
    let budget = if up_front == 0 && weight > 0 && response.status() != StatusCode::NOT_MODIFIED {
        limiter.charge(key, weight).unwrap_or_else(|wait| {
            limiter.mark_owing(key);
            Some(Budget {
                remaining: 0,
                reset: wait,
            })
        })
    } else {
        budget
    };
    // Only counted answers say what is left.
    if let (Some(limit), Some(budget)) = (limiter.limit(), budget) {
        set_headers(
            response.headers_mut(),
            limit,
            budget.remaining,
            budget.reset,
        );
    }
    Ok(response)
}

/// `429` with `Retry-After` and the budget's headers.
fn too_many(limiter: &ClientLimiter, wait: Duration) -> HttpResponse {
    let seconds = seconds_up(wait);
    let mut response = HttpResponse::build(StatusCode::TOO_MANY_REQUESTS)
        .insert_header((header::RETRY_AFTER, seconds.to_string()))
        .json(ErrorBody::new(
            format!("too many requests from this address; retry in {seconds} s"),
            "rate_limited".to_owned(),
        ));
    if let Some(limit) = limiter.limit() {
        set_headers(response.headers_mut(), limit, 0, wait);
    }
    response
}

fn set_headers(headers: &mut HeaderMap, limit: u32, remaining: u32, reset: Duration) {
    for (name, value) in [
        (LIMIT, limit.to_string()),
        (REMAINING, remaining.min(limit).to_string()),
        (RESET, seconds_up(reset).to_string()),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
}

fn seconds_up(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    #[test]
    fn rates_read_as_operators_write_them() {
        assert_eq!("0".parse(), Ok(RateLimit::OFF));
        let quota = "600/min"
            .parse::<RateLimit>()
            .expect("valid")
            .quota()
            .expect("a quota");
        assert_eq!(quota.burst_size().get(), 600);
        assert_eq!(quota.replenish_interval(), Duration::from_millis(100));
        for bad in ["600", "600/week", "x/min", "-1/s", ""] {
            assert!(bad.parse::<RateLimit>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_client_over_its_budget_waits_and_heavy_answers_weigh_more() {
        let limiter =
            ClientLimiter::new("20/min".parse().expect("valid"), TrustedProxies::default());
        let key = ClientKey::from(IpAddr::V4(Ipv4Addr::LOCALHOST));
        let remaining = |charged: Result<Option<Budget>, Duration>| {
            charged.map(|budget| budget.map(|b| b.remaining))
        };
        assert_eq!(remaining(limiter.charge(key, HEAVY)), Ok(Some(10)));
        assert_eq!(remaining(limiter.charge(key, 1)), Ok(Some(9)));
        assert_eq!(
            remaining(limiter.charge(key, 0)),
            Ok(None),
            "nothing charged"
        );
        let wait = limiter.charge(key, HEAVY).expect_err("over the budget");
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(3),
            "{wait:?}"
        );
        let other = ClientKey::from(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)));
        assert!(
            limiter.charge(other, HEAVY).is_ok(),
            "each address has its own"
        );
    }

    #[test]
    fn ipv6_clients_share_their_64_and_mapped_ones_are_ipv4() {
        let key = |text: &str| ClientKey::from(text.parse::<IpAddr>().expect("an IP"));
        assert_eq!(key("2001:db8:1:2::1"), key("2001:db8:1:2:ffff::9"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("::ffff:192.0.2.1"), key("192.0.2.1"));
    }

    #[test]
    fn forwarded_addresses_are_believed_from_trusted_proxies_only() {
        let trusted: TrustedProxies = "10.0.0.0/8".parse().expect("valid");
        let headers = |name: &'static str, value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(
                HeaderName::from_static(name),
                HeaderValue::from_str(value).expect("a header"),
            );
            headers
        };
        let client = |h: &HeaderMap| forwarded_client(h, &trusted);
        assert_eq!(
            client(&headers(
                "x-forwarded-for",
                "198.51.100.7, 203.0.113.9, 10.0.0.2"
            )),
            "203.0.113.9".parse().ok()
        );
        assert_eq!(
            client(&headers(
                "forwarded",
                "for=\"[2001:db8::7]:4711\";proto=https, for=10.0.0.3"
            )),
            "2001:db8::7".parse().ok()
        );
        assert_eq!(client(&headers("x-forwarded-for", "garbage")), None);
        let limiter = ClientLimiter::new("5/min".parse().expect("valid"), trusted);
        let forwarded = headers("x-forwarded-for", "203.0.113.9");
        let untrusted = "192.0.2.1".parse().ok();
        assert_eq!(
            limiter.key(untrusted, &forwarded),
            untrusted.map(ClientKey::from),
            "an untrusted peer's header is ignored"
        );
        assert_eq!(
            limiter.key("10.1.1.1".parse().ok(), &forwarded),
            "203.0.113.9".parse::<IpAddr>().ok().map(ClientKey::from)
        );
    }

    #[test]
    fn a_hundred_thousand_addresses_keep_the_limiter_bounded() {
        let limiter = ClientLimiter::new(
            "1200/min".parse().expect("valid"),
            TrustedProxies::default(),
        );
        let none = HeaderMap::new();
        for n in 0..(MAX_CLIENTS as u32 + 20_000) {
            let ip = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n));
            let key = limiter.key(Some(ip), &none).expect("a key");
            // Past the bound the newcomers' shared budget runs out: that is the point.
            let _ = limiter.charge(key, 1);
        }
        assert!(
            limiter.clients() <= MAX_CLIENTS + 1,
            "{}",
            limiter.clients()
        );
        // Newcomers past the bound share one budget: still limited, never remembered apart.
        let late = limiter.key(Some(IpAddr::V4(Ipv4Addr::new(11, 0, 0, 1))), &none);
        assert_eq!(late, Some(ClientKey::Newcomers));
    }
}
