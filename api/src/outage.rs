//! Failing fast while the database is unreachable. When a server is stopped or lost, the pool
//! retries refused connections until its acquire timeout (`PNODE_DB_ACQUIRE_TIMEOUT`, 5 s): every
//! request would wait that long for its 503, and pile up meanwhile. Once a request has found the
//! database unavailable, the routes that read it answer 503 at once instead, except one request
//! per `PROBE_EVERY` that tries the database; the first answer that reaches it again ends the
//! outage. Routes that need no database (health, memory, metrics, docs) never pass through here.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant},
};

use actix_web::{
    Error, ResponseError,
    body::{BoxBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    middleware::Next,
    web,
};
use prometheus_client::{
    metrics::{counter::Counter, gauge::Gauge},
    registry::Registry,
};

use crate::error::{ApiError, DatabaseUnavailable};

/// How often, during an outage, one request is let through to try the database.
pub const PROBE_EVERY: Duration = Duration::from_secs(1);

/// See the module documentation. Shared by every worker as app data.
#[derive(Debug)]
pub struct DatabaseOutage {
    epoch: Instant,
    /// Milliseconds after `epoch` (plus one, so that 0 means none) when the outage began.
    since: AtomicU64,
    /// Milliseconds after `epoch` before which no other request may try the database.
    next_probe: AtomicU64,
    refused: Counter,
    down: Gauge,
}

impl Default for DatabaseOutage {
    fn default() -> Self {
        Self {
            epoch: Instant::now(),
            since: AtomicU64::new(0),
            next_probe: AtomicU64::new(0),
            refused: Counter::default(),
            down: Gauge::default(),
        }
    }
}

impl DatabaseOutage {
    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether a request may go to the database now: always outside an outage; during one, the
    /// first request after each `PROBE_EVERY`.
    pub fn admit(&self) -> bool {
        if self.since.load(Ordering::Acquire) == 0 {
            return true;
        }
        let now = self.now();
        let next = self.next_probe.load(Ordering::Acquire);
        let probe = now >= next
            && self
                .next_probe
                .compare_exchange(
                    next,
                    now + probe_millis(),
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .is_ok();
        if !probe {
            self.refused.inc();
        }
        probe
    }

    /// A request found the database unavailable.
    pub fn failed(&self) {
        let now = self.now();
        self.next_probe
            .fetch_max(now + probe_millis(), Ordering::AcqRel);
        if self
            .since
            .compare_exchange(0, now + 1, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            self.down.set(1);
            tracing::warn!(
                probe_every = ?PROBE_EVERY,
                "the database is unavailable: answering 503 at once, trying it again every second"
            );
        }
    }

    /// A request was answered from the database.
    pub fn reached(&self) {
        let since = self.since.swap(0, Ordering::AcqRel);
        if since != 0 {
            self.down.set(0);
            let lasted = Duration::from_millis(self.now().saturating_sub(since - 1));
            tracing::info!(?lasted, "the database is available again");
        }
    }

    /// Registers the counters (named under the prefix given, e.g. `pnode_database_outage`).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "refused",
            "Requests answered 503 at once because the database was found unavailable",
            self.refused.clone(),
        );
        registry.register(
            "active",
            "1 while the database is found unavailable (routes that read it answer 503 at once)",
            self.down.clone(),
        );
    }
}

fn probe_millis() -> u64 {
    u64::try_from(PROBE_EVERY.as_millis()).unwrap_or(u64::MAX)
}

/// Middleware for each route that reads the database (see the module documentation).
pub async fn fail_fast(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let Some(outage) = req.app_data::<web::Data<DatabaseOutage>>().cloned() else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    if !outage.admit() {
        let refusal = ApiError::Unavailable(
            "the database is unavailable; retry later (tried again every second)".to_owned(),
        );
        return Ok(req.into_response(refusal.error_response()));
    }
    let response = next.call(req).await?;
    let status = response.status();
    if response
        .response()
        .extensions()
        .contains::<DatabaseUnavailable>()
    {
        outage.failed();
    } else if status.is_success() || status == actix_web::http::StatusCode::NOT_MODIFIED {
        outage.reached();
    }
    Ok(response.map_into_boxed_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_lets_one_probe_through_per_interval_and_ends_when_one_gets_through() {
        let outage = DatabaseOutage::default();
        assert!(outage.admit() && outage.admit(), "no outage: every request");

        outage.failed();
        assert!(!outage.admit(), "within the probe interval: refused");
        assert!(!outage.admit());
        assert_eq!(outage.refused.get(), 2);
        assert_eq!(outage.down.get(), 1);

        // The interval over, one request (only one) may try.
        outage.next_probe.store(outage.now(), Ordering::Release);
        assert!(outage.admit(), "the probe");
        assert!(!outage.admit(), "the others still refused");

        outage.reached();
        assert_eq!(outage.down.get(), 0);
        assert!(
            outage.admit() && outage.admit(),
            "over: every request again"
        );
    }
}
