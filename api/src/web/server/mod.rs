//! The HTTP/1.1 server: actix-web's app on actix-http's protocol and actix-server's workers, as
//! `actix_web::HttpServer` assembles them, with each connection's bytes passed through
//! [`Guarded`] (the process's connection cap, the request head's bound, the write timeout, JSON
//! bodies for the protocol's own errors). `HttpServer` takes no
//! such wrapper, hence this assembly.

pub(crate) mod connection;

use std::{fmt, io, net::TcpListener, sync::Arc, time::Duration};

use actix_http::{HttpService, Request, Response, body::MessageBody};
use actix_server::Server;
use actix_service::{
    IntoServiceFactory, Service, ServiceFactory, ServiceFactoryExt as _, fn_service, map_config,
};
use actix_web::{Error, dev::AppConfig};
use tokio::{net::TcpStream, sync::Semaphore};

use self::connection::{ConnectionMetrics, Guarded};
use crate::domain::timestamp::seconds_up;

/// How connections are served.
#[derive(Debug, Clone)]
pub(crate) struct ServerOptions {
    /// Worker threads (`None`: one per CPU core).
    pub workers: Option<usize>,
    /// How long in-flight requests may take to finish on shutdown.
    pub shutdown_timeout: Duration,
    /// How long a request's head may take to arrive (408 after it).
    pub request_timeout: Duration,
    /// How long an idle keep-alive connection is kept.
    pub keep_alive: Duration,
    /// How long a client may accept no bytes of an answer before it is dropped.
    pub write_timeout: Duration,
    /// Connections open at once in the whole process; more are answered 503 and closed.
    pub max_connections: usize,
    pub metrics: ConnectionMetrics,
}

/// Serves the apps `make_app` builds (one per worker) on `listener`.
///
/// The apps get actix-web's default `AppConfig` (host `localhost:8080`): it only matters to
/// URL generation and to `ConnectionInfo` for a request without a `Host` header, neither of
/// which the service uses.
pub(crate) fn serve<F, I, S, B>(
    listener: TcpListener,
    options: ServerOptions,
    make_app: F,
) -> io::Result<Server>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<Request, Config = AppConfig> + 'static,
    S::Error: Into<Error> + 'static,
    S::InitError: fmt::Debug,
    S::Response: Into<Response<B>> + 'static,
    <S::Service as Service<Request>>::Future: 'static,
    S::Service: 'static,
    B: MessageBody + 'static,
{
    let addr = listener.local_addr()?;
    let mut builder = Server::build();
    // Tells idle keep-alive connections to close when the server stops.
    let stopping = builder.graceful_shutdown_signal();
    builder = builder
        .disable_signals()
        // actix takes whole seconds: rounded up, so that "500ms" still waits.
        .shutdown_timeout(seconds_up(options.shutdown_timeout));
    if let Some(workers) = options.workers {
        builder = builder.workers(workers);
    }
    // One cap for every worker: the process's.
    let places = Arc::new(Semaphore::new(options.max_connections));
    let server = builder.listen("pnode-api", listener, move || {
        let stopping = stopping.clone();
        let app = make_app()
            .into_factory()
            .map_err(|err| err.into().error_response());
        let http = HttpService::build()
            .graceful_shutdown_signal(move || {
                let stopping = stopping.clone();
                async move { stopping.notified().await }
            })
            .keep_alive(options.keep_alive)
            .client_request_timeout(options.request_timeout)
            .local_addr(addr)
            .h1(map_config(app, |()| AppConfig::default()));
        let (write_timeout, metrics) = (options.write_timeout, options.metrics.clone());
        let places = Arc::clone(&places);
        fn_service(move |io: TcpStream| {
            let peer = io.peer_addr().ok();
            let place = Arc::clone(&places).try_acquire_owned().ok();
            let guarded = Guarded::new(io, write_timeout, metrics.clone(), place);
            std::future::ready(Ok((guarded, peer)))
        })
        .and_then(http)
    })?;
    Ok(server.run())
}
