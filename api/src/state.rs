//! What every handler can reach.

use crate::db::Database;

/// Shared, read-only state of the running app.
#[derive(Debug, Clone)]
pub struct AppState {
    pub db: Database,
}
