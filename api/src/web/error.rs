//! The one error type of the HTTP layer. Every error answers JSON `{"error": ..., "code": ...}`;
//! internal errors are logged with their cause chain and answered with a generic message.

use std::{fmt, sync::Arc};

use actix_web::{
    HttpRequest, HttpResponse, ResponseError,
    http::{Method, StatusCode, header},
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{db, domain::params::InvalidParameter, domain::text, view::ViewError};

/// How long a client is asked to wait before retrying a 503, in seconds.
const RETRY_AFTER_SECONDS: &str = "5";

/// The longest error message sent: a message that quotes client input quotes a prefix of it
/// (see `params::excerpt`), and anything longer is cut here.
const MAX_MESSAGE_BYTES: usize = 300;

/// A `Result` whose error is answered as JSON.
pub(crate) type Result<T, E = ApiError> = std::result::Result<T, E>;

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ErrorBody {
    /// What went wrong, for a person.
    #[schema(example = "parameter `limit` must be an integer from 1 to 1000")]
    pub error: String,
    /// What went wrong, for a program: a stable snake_case code.
    #[schema(example = "invalid_parameter")]
    pub code: String,
    /// With `ambiguous_pubkey` (409) only: the networks the pubkey is a node on; name one with
    /// `network=`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = json!(["devnet", "mainnet"]))]
    pub networks: Option<Vec<String>>,
}

impl ErrorBody {
    /// A body with `error` cut to [`MAX_MESSAGE_BYTES`].
    pub(crate) fn new(error: String, code: String) -> Self {
        Self {
            error: text::bounded(&error, MAX_MESSAGE_BYTES),
            code,
            networks: None,
        }
    }
}

/// Everything an endpoint can answer other than success.
#[derive(thiserror::Error)]
pub(crate) enum ApiError {
    /// A query or path parameter has a value outside what it accepts.
    #[error(transparent)]
    InvalidParameter(#[from] InvalidParameter),
    /// The request cannot be understood (bad JSON, bad query string, ...).
    #[error("{0}")]
    BadRequest(String),
    /// No such thing, or no such route.
    #[error("{0}")]
    NotFound(String),
    /// The pubkey is a node on several networks and the request named none.
    #[error(
        "pubkey {} is a node on several networks ({}): name one with `network=`",
        crate::domain::params::excerpt(.pubkey),
        .networks.join(", ")
    )]
    AmbiguousPubkey {
        pubkey: String,
        networks: Vec<String>,
    },
    /// The path exists, but not for this method.
    #[error(
        "method {} is not allowed here; allowed: {}",
        crate::domain::params::excerpt(.method.as_str()),
        allowed_list(.allowed)
    )]
    MethodNotAllowed {
        method: Method,
        allowed: Vec<Method>,
    },
    /// A dependency (the database) cannot serve now; retrying later may work.
    #[error("{0}")]
    Unavailable(String),
    /// As many event streams are open as the server allows; retrying later may work.
    #[error("{0}")]
    TooManyStreams(String),
    /// The client's address is over `PNODE_RATE_LIMIT`; this long until the request would fit.
    #[error(
        "too many requests from this address; retry in {} s",
        crate::domain::timestamp::seconds_up(*.0)
    )]
    RateLimited(std::time::Duration),
    /// Too many full views are being computed; retrying later may work.
    #[error(transparent)]
    Overloaded(#[from] crate::view::overload::Busy),
    /// A database failure: logged, answered generically; 503 when the database is unavailable
    /// (see `db::is_unavailable`), else 500.
    #[error("{}", if db::is_unavailable(.0) { "the database is unavailable; retry later" } else { "internal error" })]
    Database(#[from] sea_orm::DbErr),
    /// Any other failure: logged, answered generically.
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    /// The stable code in the body.
    pub(crate) fn code(&self) -> &'static str {
        match self {
            Self::InvalidParameter(_) => "invalid_parameter",
            Self::BadRequest(_) => "bad_request",
            Self::NotFound(_) => "not_found",
            Self::AmbiguousPubkey { .. } => "ambiguous_pubkey",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::Unavailable(_) => "unavailable",
            Self::Overloaded(_) => "overloaded",
            Self::TooManyStreams(_) => "too_many_streams",
            Self::RateLimited(_) => "rate_limited",
            Self::Database(err) if db::is_unavailable(err) => "unavailable",
            Self::Database(_) | Self::Internal(_) => "internal",
        }
    }
}

impl fmt::Debug for ApiError {
    /// Prints the error and every cause below it, one per line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")?;
        let mut source = match self {
            Self::Database(err) => Some(err as &dyn std::error::Error),
            Self::Internal(err) => Some(err.as_ref() as &dyn std::error::Error),
            _ => None,
        };
        while let Some(cause) = source {
            write!(f, "\n  caused by: {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::InvalidParameter(_) | Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::AmbiguousPubkey { .. } => StatusCode::CONFLICT,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) | Self::Overloaded(_) | Self::TooManyStreams(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Database(err) if db::is_unavailable(err) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Database(_) | Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        // Refusals by design (overload, an outage already known, readiness) are counted and
        // logged where they are decided, not once per request here.
        if matches!(self, Self::Database(_) | Self::Internal(_)) {
            tracing::error!(error = ?self, "request failed");
        }
        let mut response = HttpResponse::build(status);
        if let Self::MethodNotAllowed { allowed, .. } = self {
            response.insert_header((header::ALLOW, allowed_list(allowed)));
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.insert_header((header::RETRY_AFTER, RETRY_AFTER_SECONDS));
        }
        if let Self::RateLimited(wait) = self {
            let seconds = crate::domain::timestamp::seconds_up(*wait).to_string();
            response.insert_header((header::RETRY_AFTER, seconds));
        }
        let mut body = ErrorBody::new(self.to_string(), self.code().to_owned());
        if let Self::AmbiguousPubkey { networks, .. } = self {
            body.networks = Some(networks.clone());
        }
        let mut response = response.json(body);
        if let Self::Database(err) = self
            && db::is_unavailable(err)
        {
            response
                .extensions_mut()
                .insert(DatabaseUnavailable(err.clone()));
        }
        response
    }
}

/// Marks a response whose request found the database unavailable, with the error (see
/// `outage`).
#[derive(Debug, Clone)]
pub(crate) struct DatabaseUnavailable(pub sea_orm::DbErr);

impl From<ViewError> for ApiError {
    fn from(err: ViewError) -> Self {
        match err {
            ViewError::Database(err) => Self::Database(err),
            ViewError::NotFound(what) => Self::NotFound(what),
            ViewError::Ambiguous { pubkey, networks } => Self::AmbiguousPubkey { pubkey, networks },
            ViewError::Shared(shared) => shared.into(),
            ViewError::Busy(busy) => Self::Overloaded(busy),
            other => Self::Internal(other.into()),
        }
    }
}

/// A failure shared by every request that waited for one cached computation.
impl From<Arc<ViewError>> for ApiError {
    fn from(err: Arc<ViewError>) -> Self {
        match err.as_ref() {
            ViewError::Database(db) => Self::Database(db.clone()),
            ViewError::NotFound(what) => Self::NotFound(what.clone()),
            ViewError::Ambiguous { pubkey, networks } => Self::AmbiguousPubkey {
                pubkey: pubkey.clone(),
                networks: networks.clone(),
            },
            ViewError::Shared(shared) => Arc::clone(shared).into(),
            ViewError::Busy(busy) => Self::Overloaded(busy.clone()),
            other => Self::Internal(anyhow::anyhow!("{other}")),
        }
    }
}

fn allowed_list(methods: &[Method]) -> String {
    methods
        .iter()
        .map(Method::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Makes actix's own extractor failures (query string, path, JSON body) answer like every other
/// error: 400 with a JSON body.
pub(crate) fn extractor_error(err: impl fmt::Display, _req: &HttpRequest) -> actix_web::Error {
    ApiError::BadRequest(err.to_string()).into()
}

#[cfg(test)]
mod tests {
    use actix_web::body::to_bytes;

    use super::*;

    #[actix_web::test]
    async fn internal_errors_hide_their_cause_from_the_client() {
        let err = ApiError::Internal(anyhow::anyhow!("password=hunter2 leaked"));
        let body = to_bytes(err.error_response().into_body())
            .await
            .expect("body");
        let body: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(
            body,
            serde_json::json!({"error": "internal error", "code": "internal"})
        );
    }

    #[test]
    fn debug_prints_the_cause_chain() {
        let err = ApiError::Internal(anyhow::anyhow!("disk full").context("writing a sample"));
        let printed = format!("{err:?}");
        assert!(printed.contains("writing a sample"), "{printed}");
        assert!(printed.contains("caused by: disk full"), "{printed}");
    }

    #[actix_web::test]
    async fn a_malformed_query_string_answers_json_400() {
        use actix_web::{App, test, web};

        #[derive(Debug, serde::Deserialize)]
        struct Page {
            #[allow(dead_code)]
            limit: u32,
        }
        let app = test::init_service(
            App::new()
                .app_data(web::QueryConfig::default().error_handler(extractor_error))
                .route("/", web::get().to(|_: web::Query<Page>| async { "ok" })),
        )
        .await;

        let response = test::call_service(
            &app,
            test::TestRequest::get().uri("/?limit=many").to_request(),
        )
        .await;

        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body: serde_json::Value = test::read_body_json(response).await;
        assert_eq!(body["code"], "bad_request");
        assert!(
            body["error"]
                .as_str()
                .is_some_and(|e| e.contains("invalid digit")),
            "the message says what was wrong: {body}"
        );
    }

    #[test]
    fn method_not_allowed_lists_what_is() {
        let err = ApiError::MethodNotAllowed {
            method: Method::POST,
            allowed: vec![Method::GET],
        };
        let response = err.error_response();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(
            response.headers().get(header::ALLOW).map(|v| v.as_bytes()),
            Some(&b"GET"[..])
        );
    }
}
