//! Rate limits per client address (`PNODE_RATE_LIMIT`, e.g. `1200/min`: that many requests a
//! period, the same as the burst), so that no one client takes the service's capacity. A request
//! weighs what it costs: a full view or a CSV export 10 (never more than the whole budget), most
//! others 1; `/api/health`, `/metrics` (load balancers and scrapers poll them) and a
//! revalidation answered `304` nothing. Over its budget a client gets `429` (`rate_limited`)
//! with `Retry-After`; every counted answer says `RateLimit-Limit`, `RateLimit-Remaining` and
//! `RateLimit-Reset` (draft-ietf-httpapi-ratelimit-headers).
//!
//! Who the client is: [`client`]. Its budget: [`limiter`]. A revalidation (`If-None-Match`) is
//! charged by the answer pipeline once it knows the answer is not a `304`, before it computes
//! anything ([`settle`]); one that reaches a route outside the pipeline is charged when it has
//! been answered, and a client whose charge then does not fit pays up front for a period.
//! The weight is read from the decoded path and parameters, as the router and the handlers read
//! them (`/api/%70nodes` is `/api/pnodes`).

mod client;
mod limiter;
mod rate;

use std::time::Duration;

use actix_web::{
    Error, HttpMessage, HttpRequest, ResponseError,
    body::{BoxBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::{
        StatusCode,
        header::{self, HeaderMap, HeaderName, HeaderValue},
    },
    middleware::Next,
    web,
};

pub(crate) use self::limiter::ClientLimiter;
use self::{client::ClientKey, limiter::Budget};
pub use self::{
    client::{ClientIpHeader, TrustedProxies},
    rate::RateLimit,
};
use crate::{domain::timestamp::seconds_up, web::error::ApiError};

/// The weight of a full view or a CSV export, in requests.
pub(crate) const HEAVY: u32 = 10;

pub(crate) const LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
pub(crate) const REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
pub(crate) const RESET: HeaderName = HeaderName::from_static("ratelimit-reset");

/// A revalidation's charge, left to the answer pipeline (in the request's extensions).
#[derive(Debug, Clone, Copy)]
struct Deferred {
    key: ClientKey,
    weight: u32,
    /// What charging it gave, once charged.
    charged: Option<Result<Option<Budget>, Duration>>,
}

/// Charges the request's deferred weight, if it has one (a revalidation that is not a `304`):
/// `Err(429)` when it does not fit. Called by the answer pipeline before it computes a body.
pub(crate) fn settle(req: &HttpRequest) -> Result<(), ApiError> {
    let Some(limiter) = req.app_data::<web::Data<ClientLimiter>>() else {
        return Ok(());
    };
    let mut extensions = req.extensions_mut();
    let Some(deferred) = extensions.get_mut::<Deferred>() else {
        return Ok(());
    };
    if deferred.charged.is_some() {
        return Ok(());
    }
    let charged = limiter.charge(deferred.key, deferred.weight);
    deferred.charged = Some(charged);
    charged.map(|_| ()).map_err(|wait| {
        limiter.limited.inc();
        ApiError::RateLimited(wait)
    })
}

/// What a request weighs before it is answered (a revalidation is charged later).
fn weight(req: &ServiceRequest) -> u32 {
    let path = percent_encoding::percent_decode_str(req.path()).decode_utf8_lossy();
    if path == "/api/health" || path == "/metrics" {
        return 0;
    }
    let parameters: Vec<(String, String)> =
        url::form_urlencoded::parse(req.query_string().as_bytes())
            .map(|(name, value)| (name.into_owned(), value.into_owned()))
            .collect();
    let csv = parameters
        .iter()
        .any(|(name, value)| name == "format" && value == "csv")
        || req
            .headers()
            .get(header::ACCEPT)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|accept| accept.contains("text/csv"));
    let lists_nodes =
        path == "/api/pnodes" || (path.starts_with("/api/seeds/") && path.ends_with("/pnodes"));
    let paged = parameters.iter().any(|(name, _)| name == "limit");
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
    let limiter = req.app_data::<web::Data<ClientLimiter>>().cloned();
    let key = limiter
        .as_ref()
        .zip(req.peer_addr())
        .and_then(|(limiter, peer)| limiter.key(peer.ip(), req.headers()));
    let (Some(limiter), Some(key)) = (limiter, key) else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let weight = weight(&req);
    let deferred =
        weight > 0 && req.headers().contains_key(header::IF_NONE_MATCH) && !limiter.owes(key);
    let budget = if deferred {
        req.extensions_mut().insert(Deferred {
            key,
            weight,
            charged: None,
        });
        None
    } else {
        match limiter.charge(key, weight) {
            Ok(budget) => budget,
            Err(wait) => {
                limiter.limited.inc();
                let mut response = ApiError::RateLimited(wait).error_response();
                set_headers(response.headers_mut(), &limiter, 0, wait);
                return Ok(req.into_response(response));
            }
        }
    };
    let mut response = next.call(req).await?.map_into_boxed_body();
    let later = response.request().extensions().get::<Deferred>().copied();
    let budget = match later {
        Some(Deferred {
            charged: Some(charged),
            ..
        }) => charged.unwrap_or_else(|wait| {
            Some(Budget {
                remaining: 0,
                reset: wait,
            })
        }),
        // Outside the pipeline: charged now that it is answered, unless it was a 304.
        Some(Deferred { charged: None, .. }) if response.status() != StatusCode::NOT_MODIFIED => {
            limiter.charge(key, weight).unwrap_or_else(|wait| {
                limiter.mark_owing(key);
                Some(Budget {
                    remaining: 0,
                    reset: wait,
                })
            })
        }
        _ => budget,
    };
    // Only counted answers say what is left.
    if let Some(budget) = budget {
        set_headers(
            response.headers_mut(),
            &limiter,
            budget.remaining,
            budget.reset,
        );
    }
    Ok(response)
}

fn set_headers(headers: &mut HeaderMap, limiter: &ClientLimiter, remaining: u32, reset: Duration) {
    let Some(limit) = limiter.limit() else { return };
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

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn weights_are_read_from_the_decoded_path_and_parameters() {
        let weight_of = |uri: &str| weight(&TestRequest::get().uri(uri).to_srv_request());
        assert_eq!(weight_of("/api/health"), 0);
        assert_eq!(weight_of("/metrics"), 0);
        assert_eq!(weight_of("/api/pnodes"), HEAVY);
        assert_eq!(weight_of("/api/%70nodes"), HEAVY);
        assert_eq!(weight_of("/api/seeds/1/%70nodes"), HEAVY);
        assert_eq!(weight_of("/api/pnodes?limit=50"), 1);
        assert_eq!(weight_of("/api/pnodes?%6Cimit=50"), 1);
        assert_eq!(weight_of("/api/pnodes?limit=50&format=%63sv"), HEAVY);
        assert_eq!(weight_of("/api/network"), 1);
    }
}
