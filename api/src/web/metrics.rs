//! HTTP requests by route and status, with their latency until the last byte of the body.

use std::{
    pin::Pin,
    task::{Context, Poll},
    time::Instant,
};

use actix_web::{
    Error,
    body::{BodySize, BoxBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::Method,
    middleware::Next,
    web::{self, Bytes},
};
use prometheus_client::{
    encoding::{EncodeLabelSet, EncodeLabelValue},
    metrics::{
        counter::Counter,
        family::Family,
        histogram::{Histogram, exponential_buckets},
    },
    registry::{Registry, Unit},
};

use crate::web::server::connection::ConnectionMetrics;

/// A request's method as a label: the standard ones by name, every other as `OTHER`, so that
/// made-up methods cannot grow the label set.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(clippy::upper_case_acronyms)]
enum MethodLabel {
    GET,
    HEAD,
    POST,
    PUT,
    DELETE,
    PATCH,
    OPTIONS,
    CONNECT,
    TRACE,
    OTHER,
}

impl From<&Method> for MethodLabel {
    fn from(method: &Method) -> Self {
        match *method {
            Method::GET => Self::GET,
            Method::HEAD => Self::HEAD,
            Method::POST => Self::POST,
            Method::PUT => Self::PUT,
            Method::DELETE => Self::DELETE,
            Method::PATCH => Self::PATCH,
            Method::OPTIONS => Self::OPTIONS,
            Method::CONNECT => Self::CONNECT,
            Method::TRACE => Self::TRACE,
            _ => Self::OTHER,
        }
    }
}

/// Every label comes from a closed set: the method as above, the route's pattern (or
/// `unmatched`), and the status the service answered.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: MethodLabel,
    /// The route's pattern (`/api/pnodes/{pubkey}`), never the raw path, so that the label set
    /// stays small whatever clients ask for; `unmatched` for paths no route serves.
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: MethodLabel,
    route: String,
}

type LatencyFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

/// Requests answered and how long they took.
#[derive(Debug)]
pub(crate) struct HttpMetrics {
    requests: Family<RequestLabels, Counter>,
    latency: LatencyFamily,
    /// What the connections' guard did (protocol errors answered, write timeouts).
    pub connections: ConnectionMetrics,
}

impl Default for HttpMetrics {
    fn default() -> Self {
        Self {
            requests: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
            connections: ConnectionMetrics::default(),
        }
    }
}

/// From 1 ms to about 33 s.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

impl HttpMetrics {
    /// Registers them (unprefixed: `http_requests`, `http_request_duration`, connections).
    pub(crate) fn register(&self, registry: &mut Registry) {
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route and status",
            self.requests.clone(),
        );
        registry.register_with_unit(
            "http_request_duration",
            "Time from a request's arrival to the last byte of its answer",
            Unit::Seconds,
            self.latency.clone(),
        );
        self.connections.register(registry);
    }

    fn record(&self, method: MethodLabel, route: String, status: u16, started: Instant) {
        let seconds = started.elapsed().as_secs_f64();
        self.latency
            .get_or_create(&RouteLabels {
                method,
                route: route.clone(),
            })
            .observe(seconds);
        self.requests
            .get_or_create(&RequestLabels {
                method,
                route,
                status,
            })
            .inc();
    }
}

/// Middleware: counts each request once its answer has been sent whole (or abandoned).
pub(crate) async fn track(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let Some(metrics) = req.app_data::<web::Data<HttpMetrics>>().cloned() else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let started = Instant::now();
    let method = MethodLabel::from(req.method());
    let path_route = req.match_pattern();
    let response = match next.call(req).await {
        Ok(response) => response,
        Err(err) => {
            let status = err.as_response_error().status_code().as_u16();
            metrics.record(method, unmatched(path_route), status, started);
            return Err(err);
        }
    };
    // Routing happened inside `next`: the request now knows which route matched.
    let route = unmatched(response.request().match_pattern());
    let status = response.status().as_u16();
    let done = Done {
        metrics,
        method,
        route,
        status,
        started,
    };
    Ok(response.map_body(|_, body| {
        BoxBody::new(Timed {
            body: body.boxed(),
            done: Some(done),
        })
    }))
}

fn unmatched(route: Option<String>) -> String {
    route.unwrap_or_else(|| "unmatched".to_owned())
}

struct Done {
    metrics: web::Data<HttpMetrics>,
    method: MethodLabel,
    route: String,
    status: u16,
    started: Instant,
}

/// A body that records its request when it is dropped: sent whole, or cut by the client.
struct Timed {
    body: BoxBody,
    done: Option<Done>,
}

impl MessageBody for Timed {
    type Error = <BoxBody as MessageBody>::Error;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_next(cx)
    }
}

impl Drop for Timed {
    fn drop(&mut self) {
        if let Some(done) = self.done.take() {
            done.metrics
                .record(done.method, done.route, done.status, done.started);
        }
    }
}
