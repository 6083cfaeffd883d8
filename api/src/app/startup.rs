//! Building and running the HTTP application.

use std::{future::Future, net::TcpListener, sync::Arc, time::Duration};

use actix_cors::Cors;
use actix_web::{
    App,
    dev::Server,
    http::header,
    middleware::{Compress, Condition, DefaultHeaders, ErrorHandlers, from_fn},
    web::{self, JsonConfig, PathConfig, QueryConfig},
};
use tokio::{sync::watch, task::JoinHandle};
use tracing_actix_web::TracingLogger;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

use crate::{
    app::{
        collecting::{Collecting, Deliveries, Running},
        config::Settings,
    },
    collector::settings::{CollectorSettings, sources},
    db::{Database, settings::DatabaseSettings},
    domain::{endpoint::split_credentials, network::Network, secret::ExposeSecret, seeds::Seeds},
    observe::{
        allocator,
        memory::{self, MemoryProbe},
        metrics::Metrics,
    },
    push::events::hub::{EventHub, HubSettings},
    view::{cost::ViewMetrics, overload::FullViewGate},
    web::{
        cache::ViewCache,
        error::extractor_error,
        export,
        http::{self, edge},
        metrics::HttpMetrics,
        openapi,
        outage::DatabaseOutage,
        ratelimit::{self, ClientLimiter},
        request_id::{self, echo_request_id},
        routes::{self, fallback::RouteTable},
        server::{self, ServerOptions},
        settings::CorsOrigins,
        state::AppState,
    },
};

/// The running service: a bound listener, the server on it, and the database it owns.
pub struct Application {
    port: u16,
    server: Server,
    db: Database,
    /// The collector (and its webhooks), when this process collects.
    collector: Option<Running>,
    memory_monitor: JoinHandle<()>,
    /// Live events: closed at shutdown; its poller's stop switch and task.
    events: Arc<EventHub>,
    events_task: (watch::Sender<bool>, JoinHandle<()>),
    shutdown_timeout: Duration,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("port", &self.port)
            .field("db", &self.db)
            .finish_non_exhaustive()
    }
}

impl Application {
    /// Connects to the database, applies pending migrations and binds the listener. Nothing is
    /// served until [`Application::run_until_stopped`].
    pub async fn build(settings: &Settings) -> anyhow::Result<Self> {
        let db = Database::connect_migrated(&settings.database).await?;
        Self::build_with_database(settings, db)
    }

    /// Binds the listener and prepares the server over an open, migrated database.
    pub fn build_with_database(settings: &Settings, db: Database) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(settings.bind)
            .map_err(|err| anyhow::anyhow!("cannot listen on {}: {err}", settings.bind))?;
        let port = listener.local_addr()?.port();
        let collecting = collecting(settings, &db)?;
        let probe = Arc::new(MemoryProbe::from_settings(&settings.memory)?);
        let parts = Parts::new(settings, &db, collecting.as_ref(), &probe)?;
        let events = Arc::clone(&parts.state.events);
        let server = http_server(listener, settings, parts)?;
        let memory_monitor = memory::spawn_monitor(probe, &settings.memory);
        let events_task = poll_events(settings, &events);
        Ok(Self {
            port,
            server,
            db,
            collector: collecting.map(Collecting::spawn),
            memory_monitor,
            events,
            events_task,
            shutdown_timeout: settings.shutdown_timeout,
        })
    }

    /// The database the app serves from (its statement counter included).
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// The port the listener is bound to (useful with port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until `shutdown` resolves, then stops accepting, lets in-flight requests finish
    /// (within the shutdown timeout) and closes the database pool.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = &'static str>,
    ) -> anyhow::Result<()> {
        let handle = self.server.handle();
        let mut server = tokio::spawn(self.server);
        let mut collector = self.collector;
        tokio::select! {
            reason = shutdown => {
                tracing::info!(signal = reason, "shutting down: finishing in-flight requests");
                // Event streams never finish by themselves.
                self.events.close();
                // The cycle in flight first, while the HTTP workers still run: a pooled
                // connection a worker opened lives on that worker's runtime, and dies with it.
                if let Some(collector) = collector.take() {
                    collector.stop(self.shutdown_timeout).await;
                }
                handle.stop(true).await;
                server.await??;
            }
            // The server only ends by itself when it failed.
            ended = &mut server => ended??,
        }
        if let Some(collector) = collector {
            collector.stop(self.shutdown_timeout).await;
        }
        self.memory_monitor.abort();
        let (stop_events, events_task) = self.events_task;
        let _ = stop_events.send(true);
        let _ = events_task.await;
        self.db.close().await?;
        tracing::info!("shutdown complete");
        Ok(())
    }
}

/// The collector of a `serve`, unless it is off. Only the process that writes events sends them
/// to webhooks.
fn collecting(settings: &Settings, db: &Database) -> anyhow::Result<Option<Collecting>> {
    if !settings.run_collector {
        tracing::info!("the collector is off (--no-collector)");
        if settings.webhooks.any() {
            tracing::warn!(
                "PNODE_WEBHOOKS is set but this process does not collect: it sends none"
            );
        }
        return Ok(None);
    }
    let collecting = Collecting::wire(settings, db, Deliveries::Send)?;
    if collecting.is_none() {
        tracing::info!("no seeds configured (PNODE_SEEDS): the collector is off");
    }
    Ok(collecting)
}

/// Live events: the hub every stream reads, polled on a connection of its own (polling takes
/// none from requests, nor counts among their statements).
fn poll_events(
    settings: &Settings,
    events: &Arc<EventHub>,
) -> (watch::Sender<bool>, JoinHandle<()>) {
    let (stop, stopped) = watch::channel(false);
    let database = DatabaseSettings {
        max_connections: Some(1),
        ..settings.database.clone()
    };
    (
        stop,
        tokio::spawn(Arc::clone(events).run(database, stopped)),
    )
}

/// What the HTTP server shares between its workers.
struct Parts {
    state: AppState,
    metrics: Metrics,
    http_metrics: HttpMetrics,
    outage: web::Data<DatabaseOutage>,
    limiter: web::Data<ClientLimiter>,
}

/// The networks as the handlers know them.
struct Networks {
    /// The configured seeds, each on its network.
    seeds: Seeds,
    /// The seeds' networks and the default one, sorted.
    known: Vec<Network>,
    /// Each network's credits source, by its URL without user info.
    credits: Vec<(Network, String)>,
}

impl Networks {
    fn of(settings: &Settings) -> anyhow::Result<Self> {
        let default_network = settings.database.default_network();
        let seeds = settings
            .seeds
            .clone()
            .with_default_network(&default_network);
        let mut known = seeds.networks();
        if !known.contains(&default_network) {
            known.push(default_network.clone());
        }
        known.sort();
        let credits = sources(&seeds, &settings.collector.credits_url, &default_network)
            .map_err(anyhow::Error::msg)?
            .into_iter()
            .filter_map(|sources| {
                let url = sources.credits?;
                Some((sources.network, split_credentials(url.expose_secret()).0))
            })
            .collect();
        Ok(Self {
            seeds,
            known,
            credits,
        })
    }
}

impl Parts {
    /// The handlers' state and every metric registered, the collector's included.
    fn new(
        settings: &Settings,
        db: &Database,
        collecting: Option<&Collecting>,
        probe: &Arc<MemoryProbe>,
    ) -> anyhow::Result<Self> {
        let networks = Networks::of(settings)?;
        let full_views = Arc::new(FullViewGate::new(
            usize::from(settings.http.full_view_concurrency),
            settings.http.full_view_wait,
        ));
        let cache = Arc::new(ViewCache::new(
            settings.http.view_cache_mb.saturating_mul(memory::MB),
            Arc::clone(&full_views),
        ));
        let events = Arc::new(EventHub::new(HubSettings {
            poll_interval: settings.events.poll_interval,
            heartbeat: settings.events.heartbeat,
            max_clients: settings.events.max_clients,
            replay: settings.events.replay,
        }));
        let outage = web::Data::new(DatabaseOutage::new(db.clone()));
        let limiter = web::Data::new(ClientLimiter::new(
            settings.http.rate_limit,
            settings.http.trusted_proxies.clone(),
            settings.http.client_ip_header,
        ));
        let http_metrics = HttpMetrics::default();
        let view_metrics = ViewMetrics::default();
        let mut metrics = Metrics::new();
        metrics.register(|registry| {
            http_metrics.register(registry);
            view_metrics.register(registry);
        });
        metrics.register_prefixed("pnode_view_cache", |r| cache.metrics().register(r));
        metrics.register_prefixed("pnode_full_views", |r| full_views.register(r));
        metrics.register_prefixed("pnode_events", |r| events.register(r));
        metrics.register_prefixed("pnode_database_outage", |r| outage.register(r));
        metrics.register_prefixed("pnode_http", |r| limiter.register(r));
        if let Some(collecting) = collecting {
            collecting.register(&mut metrics);
        }
        let Networks {
            seeds,
            known: networks,
            credits,
        } = networks;
        let state = AppState {
            credits,
            db: db.clone(),
            write_health: collecting.map(Collecting::write_health),
            answer_flavor: http::flavor(&seeds),
            seeds,
            networks,
            cycle_stale_after: cycle_stale_after(&settings.collector),
            memory: Arc::clone(probe),
            cache,
            full_views,
            view_metrics,
            events,
            clock_step: kept_for(settings.collector.interval),
            node_history_limit: kept_for(settings.collector.retention.stats),
            network_history_limit: kept_for(settings.collector.retention.runs),
        };
        Ok(Self {
            state,
            metrics,
            http_metrics,
            outage,
            limiter,
        })
    }
}

fn http_server(listener: TcpListener, settings: &Settings, parts: Parts) -> anyhow::Result<Server> {
    let Parts {
        state,
        metrics,
        http_metrics,
        outage,
        limiter,
    } = parts;
    let doc = openapi::document();
    let route_table = web::Data::new(RouteTable::from_openapi(&doc));
    let state = web::Data::new(state);
    let metrics = web::Data::new(metrics);
    let connections = http_metrics.connections.clone();
    let http_metrics = web::Data::new(http_metrics);
    let cors_origins = settings.http.cors_origins.clone();
    let make_app = move || {
        App::new()
            .into_utoipa_app()
            .app_data(state.clone())
            .app_data(route_table.clone())
            .app_data(metrics.clone())
            .app_data(http_metrics.clone())
            .app_data(outage.clone())
            .app_data(limiter.clone())
            .app_data(QueryConfig::default().error_handler(extractor_error))
            .app_data(PathConfig::default().error_handler(extractor_error))
            .app_data(JsonConfig::default().error_handler(extractor_error))
            .configure(routes::configure)
            .map(|app| {
                app.service(
                    SwaggerUi::new("/docs/{_:.*}")
                        .url("/api/openapi.json", doc.clone())
                        // The online validator would send the document to swagger.io.
                        .config(utoipa_swagger_ui::Config::default().validator_url("none")),
                )
                .service(web::redirect("/docs", "/docs/"))
                .default_service(web::to(routes::fallback::not_found))
                .wrap(from_fn(edge::head_as_get))
                // Inside CORS and the error handlers: a 429 is JSON a browser's script can read.
                .wrap(from_fn(ratelimit::limit))
                .wrap(from_fn(echo_request_id))
                // Outside `Compress`, so that it only adds `Vary` where `Compress` did not.
                .wrap(Compress::default())
                .wrap(
                    DefaultHeaders::new()
                        .add((header::VARY, "Accept-Encoding"))
                        .add(edge::NOSNIFF),
                )
                .wrap(cors(&cors_origins))
                // Outside CORS, whose refusals are text.
                .wrap(ErrorHandlers::new().default_handler(edge::json_error))
                .wrap(from_fn(crate::web::metrics::track))
                .wrap(TracingLogger::default())
            })
            .into_app()
    };
    let addr = listener.local_addr()?;
    let server = server::serve(
        listener,
        ServerOptions {
            workers: settings.workers,
            shutdown_timeout: settings.shutdown_timeout,
            request_timeout: settings.http.request_timeout,
            keep_alive: settings.http.keep_alive,
            write_timeout: settings.http.write_timeout,
            max_connections: settings.http.max_connections,
            metrics: connections,
        },
        make_app,
    )?;
    tracing::info!(%addr, allocator = allocator::NAME, "listening");
    Ok(server)
}

/// CORS for browser dashboards on other origins: GET (and HEAD) from the configured origins, with
/// the validators and the request id readable by their scripts. Off (no headers at all) with
/// `PNODE_CORS_ORIGINS=none`.
fn cors(origins: &CorsOrigins) -> Condition<Cors> {
    let mut cors = Cors::default()
        .allowed_methods(["GET", "HEAD"])
        .allow_any_header()
        .expose_headers([
            header::ETAG,
            header::LAST_MODIFIED,
            header::RETRY_AFTER,
            request_id::REQUEST_ID_HEADER,
            header::HeaderName::from_static(export::ROW_COUNT),
            ratelimit::LIMIT,
            ratelimit::REMAINING,
            ratelimit::RESET,
        ])
        .max_age(3600);
    match origins {
        CorsOrigins::Any => cors = cors.allow_any_origin().send_wildcard(),
        CorsOrigins::Only(origins) => {
            for origin in origins {
                cors = cors.allowed_origin(origin);
            }
        }
        CorsOrigins::None => {}
    }
    Condition::new(*origins != CorsOrigins::None, cors)
}

/// A cycle polls for at most its deadline, after seeds that answer within the pRPC timeout; a
/// minute more covers the writes.
fn cycle_stale_after(collector: &CollectorSettings) -> chrono::Duration {
    let bound = collector.cycle_deadline + collector.prpc_timeout * 2 + Duration::from_secs(60);
    chrono::Duration::from_std(bound).unwrap_or(chrono::Duration::hours(1))
}

/// A retention window as a chrono duration (a window too long for chrono: 100 years).
fn kept_for(window: Duration) -> chrono::Duration {
    chrono::Duration::from_std(window).unwrap_or(chrono::Duration::days(36_500))
}
