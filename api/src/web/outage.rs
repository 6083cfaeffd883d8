//! Failing fast while the database is unreachable. When a server is stopped or lost, the pool
//! retries refused connections until its acquire timeout (`PNODE_DB_ACQUIRE_TIMEOUT`, 5 s): every
//! request would wait that long for its 503, and pile up meanwhile. Once a request has found the
//! database unreachable (a connection refused or cut, or the pool timed out while no statement
//! had succeeded for as long; a busy database or a congested pool does not count), the routes that
//! read it answer 503 at once instead, except one request per `PROBE_EVERY` that tries the
//! database. The first answer from the database (a 2xx or 304 of such a route, or a successful
//! `/api/ready`) ends the outage. Routes that need no database (health, memory, metrics, docs) never pass through here.

use std::{
    sync::{
        Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use actix_web::{
    Error, ResponseError,
    body::{BoxBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::StatusCode,
    middleware::Next,
    web,
};
use prometheus_client::{
    metrics::{counter::Counter, gauge::Gauge},
    registry::Registry,
};

use crate::{
    db::{self, Database},
    web::error::{ApiError, DatabaseUnavailable},
};

/// How often, during an outage, one request is let through to try the database.
pub(crate) const PROBE_EVERY: Duration = Duration::from_secs(1);

/// How long that request's first try (a ping) may take: a database still gone answers no sooner
/// than the pool's acquire timeout, and the probe must not wait that long for its 503.
pub(crate) const PROBE_WAIT: Duration = Duration::from_secs(1);

/// What a request may do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// No outage: go ahead.
    Go,
    /// An outage, and this request's turn to try the database.
    Probe,
    /// An outage: answer 503 at once.
    Refused,
}

/// See the module documentation. Shared by every worker as app data.
#[derive(Debug)]
pub(crate) struct DatabaseOutage {
    db: Database,
    epoch: Instant,
    /// Milliseconds after `epoch` (plus one, so that 0 means none) when the outage began. Read
    /// without the lock; changed only under `changing`, which also keeps `active` in step.
    since: AtomicU64,
    changing: Mutex<()>,
    /// Milliseconds after `epoch` before which no other request may try the database.
    next_probe: AtomicU64,
    refused: Counter,
    active: Gauge,
}

impl DatabaseOutage {
    pub(crate) fn new(db: Database) -> Self {
        Self {
            db,
            epoch: Instant::now(),
            since: AtomicU64::new(0),
            changing: Mutex::new(()),
            next_probe: AtomicU64::new(0),
            refused: Counter::default(),
            active: Gauge::default(),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether a request may go to the database now: always outside an outage; during one, the
    /// first request after each `PROBE_EVERY`.
    pub(crate) fn admit(&self) -> Admission {
        if self.since.load(Ordering::Acquire) == 0 {
            return Admission::Go;
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
            return Admission::Refused;
        }
        Admission::Probe
    }

    /// Whether the database answers a ping within [`PROBE_WAIT`].
    async fn answers(&self) -> bool {
        let ping = tokio::time::timeout(PROBE_WAIT, self.db.conn().ping()).await;
        matches!(ping, Ok(Ok(())))
    }

    /// A request found the database unavailable with `err`: an outage begins if it says the
    /// database cannot be reached.
    pub(crate) fn failed(&self, err: &sea_orm::DbErr) {
        if !db::is_unreachable(err, self.db.answered_recently()) {
            return;
        }
        let now = self.now();
        self.next_probe
            .fetch_max(now + probe_millis(), Ordering::AcqRel);
        let _changing = self.changing.lock().unwrap_or_else(PoisonError::into_inner);
        if self.since.load(Ordering::Acquire) == 0 {
            self.since.store(now + 1, Ordering::Release);
            self.active.set(1);
            tracing::warn!(
                error = %err,
                "the database is unreachable: routes that read it answer 503 at once, one \
                 request a second trying it"
            );
        }
    }

    /// The database answered a request.
    pub(crate) fn reached(&self) {
        if self.since.load(Ordering::Acquire) == 0 {
            return;
        }
        let _changing = self.changing.lock().unwrap_or_else(PoisonError::into_inner);
        let since = self.since.swap(0, Ordering::AcqRel);
        if since != 0 {
            self.active.set(0);
            let lasted = Duration::from_millis(self.now().saturating_sub(since - 1));
            tracing::info!(?lasted, "the database answers again");
        }
    }

    /// Registers the counters (named under the prefix given, e.g. `pnode_database_outage`).
    pub(crate) fn register(&self, registry: &mut Registry) {
        registry.register(
            "refused",
            "Requests answered 503 at once because the database was found unreachable",
            self.refused.clone(),
        );
        registry.register(
            "active",
            "1 while the database is found unreachable (routes that read it answer 503 at once)",
            self.active.clone(),
        );
    }
}

fn probe_millis() -> u64 {
    u64::try_from(PROBE_EVERY.as_millis()).unwrap_or(u64::MAX)
}

/// Middleware for each route that reads the database (see the module documentation).
pub(crate) async fn fail_fast(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let outage = req
        .app_data::<web::Data<DatabaseOutage>>()
        .cloned()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("no DatabaseOutage in app data")))?;
    let admission = outage.admit();
    let gone = match admission {
        Admission::Go => false,
        Admission::Refused => true,
        Admission::Probe => !outage.answers().await,
    };
    if gone {
        let refusal = ApiError::Unavailable(
            "the database is unreachable; retry later (it is tried again every second)".to_owned(),
        );
        return Ok(req.into_response(refusal.error_response()));
    }
    let response = next.call(req).await?;
    let status = response.status();
    if let Some(DatabaseUnavailable(err)) = response.response().extensions().get() {
        outage.failed(err);
    } else if status.is_success() || status == StatusCode::NOT_MODIFIED {
        outage.reached();
    }
    Ok(response.map_into_boxed_body())
}

#[cfg(test)]
mod tests {
    use std::sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    };

    use actix_web::{App, HttpResponse, middleware::from_fn, test};
    use sea_orm::{DbErr, RuntimeErr};

    use super::*;
    use crate::db::settings::DatabaseSettings;

    async fn outage() -> (DatabaseOutage, test_support::TestDb) {
        let place = test_support::TestDb::create(&test_support::Backend::Sqlite).await;
        let db = Database::connect(&DatabaseSettings::for_url(place.url.clone()))
            .await
            .expect("connect");
        (DatabaseOutage::new(db), place)
    }

    fn refused() -> DbErr {
        DbErr::Conn(RuntimeErr::Internal("connection refused".into()))
    }

    /// The probe interval is over now.
    fn interval_over(outage: &DatabaseOutage) {
        outage.next_probe.store(outage.now(), Ordering::Release);
    }

    #[tokio::test]
    async fn an_outage_lets_one_probe_through_per_interval_and_ends_when_one_gets_through() {
        let (outage, _place) = outage().await;
        assert_eq!(
            (outage.admit(), outage.admit()),
            (Admission::Go, Admission::Go),
            "no outage: every request"
        );

        outage.failed(&refused());
        assert_eq!(
            outage.admit(),
            Admission::Refused,
            "within the probe interval"
        );
        assert_eq!(outage.admit(), Admission::Refused);
        assert_eq!(outage.refused.get(), 2);
        assert_eq!(outage.active.get(), 1);

        interval_over(&outage);
        assert_eq!(outage.admit(), Admission::Probe);
        assert_eq!(
            outage.admit(),
            Admission::Refused,
            "the others still refused"
        );

        outage.reached();
        assert_eq!(outage.active.get(), 0);
        assert_eq!(
            (outage.admit(), outage.admit()),
            (Admission::Go, Admission::Go),
            "over: every request again"
        );
    }

    #[tokio::test]
    async fn a_pool_timeout_is_an_outage_only_when_nothing_was_answered_for_as_long() {
        let (outage, _place) = outage().await;
        let timed_out = DbErr::ConnectionAcquire(sea_orm::error::ConnAcquireErr::Timeout);
        assert!(!db::is_unreachable(&timed_out, true), "busy, not gone");
        assert!(db::is_unreachable(&timed_out, false), "nothing answered");
        assert!(!db::is_unreachable(&DbErr::Custom("x".into()), false));

        // No statement has run on this pool yet: a timeout means it could reach nothing.
        assert!(!outage.db.answered_recently());
        outage.failed(&timed_out);
        assert_eq!(outage.admit(), Admission::Refused, "an outage");
        outage.reached();

        // Another request was just answered: a timeout now is congestion. (A statement, as every
        // query of the service is; `execute_unprepared` passes no metric callback.)
        use sea_orm::ConnectionTrait as _;
        outage
            .db
            .conn()
            .query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Sqlite,
                "SELECT 1",
            ))
            .await
            .expect("a statement");
        assert!(outage.db.answered_recently());
        outage.failed(&timed_out);
        assert_eq!(outage.admit(), Admission::Go, "congestion is no outage");
        assert_eq!(outage.active.get(), 0);
    }

    #[actix_web::test]
    async fn the_middleware_refuses_at_once_probes_and_recovers_on_a_database_answer() {
        let (outage, _place) = outage().await;
        let outage = web::Data::new(outage);
        let handled = Arc::new(AtomicUsize::new(0));
        let counted = |answer: fn() -> Result<HttpResponse, ApiError>| {
            let handled = Arc::clone(&handled);
            move || {
                handled.fetch_add(1, Ordering::Relaxed);
                let answer = answer();
                async move { answer }
            }
        };
        let app = test::init_service(
            App::new()
                .app_data(outage.clone())
                .wrap(from_fn(fail_fast))
                .route(
                    "/down",
                    web::get().to(counted(|| Err(ApiError::Database(refused())))),
                )
                .route(
                    "/ok",
                    web::get().to(counted(|| Ok(HttpResponse::Ok().finish()))),
                )
                .route(
                    "/bad",
                    web::get().to(counted(|| Err(ApiError::BadRequest("bad".into())))),
                )
                .route(
                    "/missing",
                    web::get().to(counted(|| Err(ApiError::NotFound("nobody".into())))),
                ),
        )
        .await;
        let get = |path: &'static str| test::TestRequest::get().uri(path).to_request();

        let first = test::call_service(&app, get("/down")).await;
        assert_eq!(first.status(), 503);
        assert_eq!(handled.load(Ordering::Relaxed), 1);

        let refusal = test::call_service(&app, get("/ok")).await;
        assert_eq!(refusal.status(), 503);
        assert!(refusal.headers().contains_key("retry-after"));
        assert_eq!(
            handled.load(Ordering::Relaxed),
            1,
            "refused without the handler"
        );

        // A probe that never reached the database (a bad parameter) ends nothing.
        interval_over(&outage);
        assert_eq!(test::call_service(&app, get("/bad")).await.status(), 400);
        assert_eq!(test::call_service(&app, get("/ok")).await.status(), 503);

        // Nor does a 404 (some are decided before any query).
        interval_over(&outage);
        assert_eq!(
            test::call_service(&app, get("/missing")).await.status(),
            404
        );
        assert_eq!(outage.active.get(), 1);

        // A 200 is an answer from the database: the outage is over.
        interval_over(&outage);
        assert_eq!(test::call_service(&app, get("/ok")).await.status(), 200);
        assert_eq!(outage.active.get(), 0);
        assert_eq!(test::call_service(&app, get("/ok")).await.status(), 200);
        assert_eq!(handled.load(Ordering::Relaxed), 5);
    }
}
