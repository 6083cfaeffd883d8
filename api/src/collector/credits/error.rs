//! Why a credits refresh gave nothing.

/// Why credits could not be fetched or stored. Either way nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum CreditsError {
    /// No complete answer within the policy's timeout (connect included).
    #[error("no complete answer from the credits source within the timeout")]
    Timeout,
    /// The source could not be reached, or the connection broke.
    #[error("cannot reach the credits source: {0}")]
    Connect(String),
    /// An HTTP status other than 2xx.
    #[error("the credits source answered HTTP status {0}")]
    HttpStatus(u16),
    /// The answer was longer than the policy accepts.
    #[error("the credits answer is larger than the limit")]
    TooLarge,
    /// The body is not JSON.
    #[error("the credits answer is not JSON: {0}")]
    NotJson(String),
    /// JSON, but not `{"status":"success","pods_credits":[...]}`.
    #[error("unexpected credits answer: {0}")]
    Shape(String),
    /// Reading or writing the database failed; the transaction was rolled back.
    #[error("cannot store credits: {0}")]
    Database(#[from] sea_orm::DbErr),
}

impl CreditsError {
    /// A stable snake_case name, for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Connect(_) => "connect",
            Self::HttpStatus(_) => "http_status",
            Self::TooLarge => "too_large",
            Self::NotJson(_) => "not_json",
            Self::Shape(_) => "shape",
            Self::Database(_) => "database",
        }
    }

    /// Whether trying again soon may succeed: no answer, or the source overloaded or failing
    /// (429, 5xx). An answer it gave and meant (a 404, a bad shape) would be the same again.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Timeout | Self::Connect(_) => true,
            Self::HttpStatus(status) => *status == 429 || *status >= 500,
            Self::TooLarge | Self::NotJson(_) | Self::Shape(_) | Self::Database(_) => false,
        }
    }

    /// Maps a reqwest failure: its own message rarely says what failed ("connection refused" is
    /// two causes down), so the whole chain is kept.
    pub(super) fn transport(err: &reqwest::Error) -> Self {
        if err.is_timeout() {
            return Self::Timeout;
        }
        let text = crate::net::http::error_chain(err);
        Self::Connect(text)
    }
}
