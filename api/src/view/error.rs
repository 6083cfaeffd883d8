//! Why a view could not be built; mapped to an HTTP answer at the edge (`crate::web::error`).

use sea_orm::DbErr;

/// A failure while selecting, loading or encoding nodes.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    #[error("database: {0}")]
    Database(#[from] DbErr),
    #[error("encoding the view as JSON: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("the view is too large to hold in memory (over 4 GiB of JSON)")]
    TooLarge,
    #[error("compressing an answer: {0}")]
    Compress(std::io::Error),
    /// A failure several requests waited for, shared.
    #[error(transparent)]
    Shared(std::sync::Arc<ViewError>),
    /// What was asked for does not exist (a 404 at the HTTP edge).
    #[error("{0}")]
    NotFound(String),
    /// The pubkey is a node on each of these networks and none was named (a 409 at the edge).
    #[error("pubkey {pubkey} is a node on several networks")]
    Ambiguous {
        pubkey: String,
        networks: Vec<String>,
    },
    #[error("{0}")]
    Internal(&'static str),
    /// Too many full views are being computed (a 503 at the HTTP edge).
    #[error(transparent)]
    Busy(#[from] crate::view::overload::Busy),
}
