//! The credits tests' database: the app's own pool (with its statement counter) over a fresh,
//! migrated test database from the shared harness.

use test_support::Backend;

use pnode_api::db::{Database, settings::DatabaseSettings};

/// A migrated database that exists only for one test.
#[derive(Debug)]
pub struct TestDb {
    pub db: Database,
    /// Dropped last: the database goes when the test ends.
    _place: test_support::TestDb,
}

impl TestDb {
    pub async fn open(backend: &Backend) -> Self {
        let place = test_support::TestDb::create(backend).await;
        let settings = DatabaseSettings {
            max_connections: Some(2),
            ..DatabaseSettings::for_url(place.url.clone())
        };
        let db = Database::connect_migrated(&settings)
            .await
            .expect("connect and migrate");
        Self { db, _place: place }
    }
}
