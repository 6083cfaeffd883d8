//! The budgets: one per client key (governor's keyed GCRA), with their memory bounded.

use std::{
    collections::HashMap,
    sync::{
        Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use governor::{
    Quota, RateLimiter,
    clock::{Clock, DefaultClock},
    middleware::StateInformationMiddleware,
    state::keyed::DashMapStateStore,
};
use prometheus_client::{metrics::counter::Counter, registry::Registry};

use super::{
    client::{ClientIpHeader, ClientKey, TrustedProxies, client},
    rate::RateLimit,
};

/// Clients remembered at most; while as many are, every request shares one budget (a few tens
/// of bytes each: a few MiB at this bound, BENCHMARKS.md).
pub(crate) const MAX_CLIENTS: usize = 100_000;

/// Requests between two sweeps of idle clients.
const SWEEP_EVERY: u64 = 10_000;

/// The least time between two sweeps (each walks every client remembered).
const SWEEP_GAP: Duration = Duration::from_secs(1);

type Keyed =
    RateLimiter<ClientKey, DashMapStateStore<ClientKey>, DefaultClock, StateInformationMiddleware>;

/// What a request is allowed, for its response's headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Budget {
    pub remaining: u32,
    pub reset: Duration,
}

/// See the module documentation of `web::ratelimit`.
#[derive(Debug)]
pub(crate) struct ClientLimiter {
    keyed: Option<Keyed>,
    quota: Option<Quota>,
    trusted: TrustedProxies,
    header: ClientIpHeader,
    clock: DefaultClock,
    /// Clients whose after-the-fact charge did not fit, until when they pay up front.
    owing: Mutex<HashMap<ClientKey, Instant>>,
    requests: AtomicU64,
    last_sweep: Mutex<Instant>,
    pub(super) limited: Counter,
}

impl ClientLimiter {
    pub(crate) fn new(limit: RateLimit, trusted: TrustedProxies, header: ClientIpHeader) -> Self {
        let quota = limit.quota();
        Self {
            keyed: quota.map(|quota| RateLimiter::dashmap(quota).with_middleware()),
            quota,
            trusted,
            header,
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
    pub(super) fn clients(&self) -> usize {
        self.keyed.as_ref().map_or(0, RateLimiter::len)
    }

    /// The budget a request from `peer` with `headers` is counted against; `None` without a
    /// limit.
    pub(super) fn key(
        &self,
        peer: std::net::IpAddr,
        headers: &actix_web::http::header::HeaderMap,
    ) -> Option<ClientKey> {
        let keyed = self.keyed.as_ref()?;
        let key = ClientKey::from(client(peer, headers, &self.trusted, self.header));
        let due = self.requests.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1;
        if due || keyed.len() >= MAX_CLIENTS {
            self.sweep();
        }
        if keyed.len() >= MAX_CLIENTS {
            return Some(ClientKey::Everyone);
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

    /// The weight `weight` as charged: never more than the whole budget (a request that could
    /// never fit would be refused for ever).
    pub(super) fn fitted(&self, weight: u32) -> u32 {
        self.limit().map_or(weight, |limit| weight.min(limit))
    }

    /// Charges `weight` to `key`: the budget left (`None` when nothing was charged), or how long
    /// until the request would fit.
    pub(super) fn charge(&self, key: ClientKey, weight: u32) -> Result<Option<Budget>, Duration> {
        let (Some(keyed), Some(quota)) = (&self.keyed, self.quota) else {
            return Ok(None);
        };
        let Some(weight) = std::num::NonZeroU32::new(self.fitted(weight)) else {
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
            Err(_) => Err(quota.burst_size_replenished_in()),
        }
    }

    pub(super) fn owes(&self, key: ClientKey) -> bool {
        let owing = self.owing.lock().unwrap_or_else(PoisonError::into_inner);
        owing.get(&key).is_some_and(|until| *until > Instant::now())
    }

    pub(super) fn mark_owing(&self, key: ClientKey) {
        let Some(quota) = self.quota else { return };
        let mut owing = self.owing.lock().unwrap_or_else(PoisonError::into_inner);
        if owing.len() < MAX_CLIENTS {
            owing.insert(key, Instant::now() + quota.burst_size_replenished_in());
        }
    }

    /// The whole budget, when there is a limit.
    pub(super) fn limit(&self) -> Option<u32> {
        self.quota.map(|quota| quota.burst_size().get())
    }
}

/// How long until a budget with `remaining` left is full again.
fn refill(quota: Quota, remaining: u32) -> Duration {
    let missing = quota.burst_size().get().saturating_sub(remaining);
    quota.replenish_interval() * missing
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use actix_web::http::header::HeaderMap;

    use super::*;

    fn limiter(rate: &str) -> ClientLimiter {
        ClientLimiter::new(
            rate.parse().expect("a rate"),
            TrustedProxies::default(),
            ClientIpHeader::default(),
        )
    }

    #[test]
    fn a_client_over_its_budget_waits_and_heavy_answers_weigh_more() {
        let limiter = limiter("20/min");
        let key = ClientKey::from(IpAddr::V4(Ipv4Addr::LOCALHOST));
        let remaining =
            |charged: Result<Option<Budget>, Duration>| charged.map(|b| b.map(|b| b.remaining));
        assert_eq!(remaining(limiter.charge(key, 10)), Ok(Some(10)));
        assert_eq!(remaining(limiter.charge(key, 1)), Ok(Some(9)));
        assert_eq!(
            remaining(limiter.charge(key, 0)),
            Ok(None),
            "nothing charged"
        );
        let wait = limiter.charge(key, 10).expect_err("over the budget");
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(3),
            "{wait:?}"
        );
        let other = ClientKey::from(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)));
        assert!(
            limiter.charge(other, 10).is_ok(),
            "each address has its own"
        );
    }

    #[test]
    fn a_request_heavier_than_the_whole_budget_still_fits_an_empty_one() {
        let limiter = limiter("5/min");
        let key = ClientKey::from(IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(
            limiter.charge(key, 10).map(|b| b.map(|b| b.remaining)),
            Ok(Some(0))
        );
    }

    #[test]
    fn a_hundred_thousand_addresses_keep_the_limiter_bounded() {
        let limiter = limiter("1200/min");
        let none = HeaderMap::new();
        for n in 0..(MAX_CLIENTS as u32 + 20_000) {
            let ip = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n));
            let key = limiter.key(ip, &none).expect("a key");
            // Past the bound the shared budget runs out: that is the point.
            let _ = limiter.charge(key, 1);
        }
        assert!(
            limiter.clients() <= MAX_CLIENTS + 1,
            "{}",
            limiter.clients()
        );
        let late = limiter.key(IpAddr::V4(Ipv4Addr::new(11, 0, 0, 1)), &none);
        assert_eq!(late, Some(ClientKey::Everyone));
    }
}
