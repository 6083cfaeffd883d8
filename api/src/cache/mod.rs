//! The view cache: what `/api/pnodes`, `/api/pnodes/{pubkey}` and `/api/ingestion-status` answer
//! for one data version, computed once and served to every poller from memory until the database
//! holds a newer version.
//!
//! Three kinds of entry, each keyed by the data version it belongs to:
//! - the node table: every node encoded once ([`NodeTable`]);
//! - an ordering: the ids one filter and sort select, in order (one statement);
//! - an encoded body: an answer compressed (or, for small answers, just written) once.
//!
//! A page of any ordering is a slice of it, cut from the node table: O(page). Entries are held in
//! an LRU cache bounded in bytes (`PNODE_VIEW_CACHE_MB`); concurrent requests for an entry that
//! is missing compute it once (single-flight) and all get it. Entries of older versions are
//! dropped as soon as a newer version is seen.

mod answers;
mod metrics;
mod table;

use std::sync::{
    Arc,
    atomic::{AtomicI64, Ordering as AtomicOrdering},
};

use actix_web::web::Bytes;
use chrono::Utc;
use moka::{future::Cache, notification::RemovalCause, policy::EvictionPolicy};
use sea_orm::DatabaseConnection;

pub use self::{answers::Answer, metrics::CacheMetrics, table::NodeTable};
use crate::{
    compression::{self, Encoding},
    seeds::Seeds,
    view::{self, ViewError, query::Ordering},
};

/// What the cache keeps, and for which version.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Nodes {
        version: i64,
    },
    Ordering {
        version: i64,
        ordering: Ordering,
    },
    /// An answer as sent: `what` is the endpoint and its canonical query.
    Body {
        version: i64,
        what: String,
        encoding: Encoding,
    },
}

impl Key {
    fn version(&self) -> i64 {
        match self {
            Self::Nodes { version }
            | Self::Ordering { version, .. }
            | Self::Body { version, .. } => *version,
        }
    }

    /// Bytes the key holds beyond its own size.
    fn weight(&self) -> usize {
        let text = |text: &Option<String>| text.as_ref().map_or(0, String::len);
        match self {
            Self::Nodes { .. } => 0,
            Self::Ordering { ordering, .. } => {
                let f = &ordering.filter;
                text(&f.seed) + text(&f.version) + text(&f.text)
            }
            Self::Body { what, .. } => what.len(),
        }
    }
}

#[derive(Debug, Clone)]
enum Entry {
    Nodes(Arc<NodeTable>),
    Ordering(Arc<[i64]>),
    Body(Bytes),
}

impl Entry {
    fn weight(&self) -> usize {
        match self {
            Self::Nodes(table) => table.weight(),
            Self::Ordering(ids) => ids.len() * std::mem::size_of::<i64>(),
            Self::Body(bytes) => bytes.len(),
        }
    }
}

/// A failure to compute an entry, shared by every request that waited for it.
pub type CacheError = Arc<ViewError>;

/// See the module documentation.
#[derive(Debug)]
pub struct ViewCache {
    /// `None` when caching is off (a capacity of 0).
    entries: Option<Cache<Key, Entry>>,
    metrics: CacheMetrics,
    /// The newest version seen; entries of older ones are invalidated when it moves.
    newest: AtomicI64,
}

impl ViewCache {
    /// A cache holding at most `capacity` bytes (0: no cache).
    pub fn new(capacity: u64) -> Self {
        let metrics = CacheMetrics::default();
        let evicted = metrics.clone();
        let entries = (capacity > 0).then(|| {
            Cache::builder()
                .max_capacity(capacity)
                .weigher(|key: &Key, entry: &Entry| {
                    let bytes = std::mem::size_of::<Key>() + key.weight() + entry.weight();
                    u32::try_from(bytes).unwrap_or(u32::MAX)
                })
                .eviction_policy(EvictionPolicy::lru())
                .eviction_listener(move |_, _, cause| {
                    if cause == RemovalCause::Size {
                        evicted.evicted();
                    }
                })
                .support_invalidation_closures()
                .build()
        });
        Self {
            entries,
            metrics,
            newest: AtomicI64::new(i64::MIN),
        }
    }

    /// Whether answers are cached at all.
    pub fn is_enabled(&self) -> bool {
        self.entries.is_some()
    }

    /// The cache's counters, to register with `/metrics`.
    pub fn metrics(&self) -> &CacheMetrics {
        &self.metrics
    }

    /// Brings the cache's own count of bytes held (its bound applies to it) up to date in its
    /// metrics, after its pending evictions.
    pub async fn refresh_size(&self) {
        if let Some(entries) = &self.entries {
            entries.run_pending_tasks().await;
            self.metrics.set_bytes(entries.weighted_size());
        }
    }

    /// Tells the cache the data version a request found; entries of older versions go.
    fn saw(&self, entries: &Cache<Key, Entry>, version: i64) {
        let before = self.newest.fetch_max(version, AtomicOrdering::Relaxed);
        if version > before {
            // Only fails when closures are unsupported, and they are turned on above.
            let _ = entries.invalidate_entries_if(move |key, _| key.version() < version);
        }
        self.metrics.set_bytes(entries.weighted_size());
    }

    /// Gets `key`, computing it with `init` if it is missing (once for all concurrent callers).
    async fn get_or_compute<F>(
        &self,
        entries: &Cache<Key, Entry>,
        key: Key,
        init: F,
    ) -> Result<Entry, CacheError>
    where
        F: Future<Output = Result<Entry, ViewError>>,
    {
        let mut computed = false;
        let entry = entries
            .try_get_with(key, async {
                computed = true;
                init.await
            })
            .await;
        self.metrics.request(!computed);
        entry
    }

    /// The node table of `version`, built once. `None` when caching is off.
    pub async fn nodes(
        &self,
        db: &DatabaseConnection,
        seeds: &Seeds,
        version: i64,
    ) -> Option<Result<Arc<NodeTable>, CacheError>> {
        let entries = self.entries.as_ref()?;
        self.saw(entries, version);
        let entry = self
            .get_or_compute(entries, Key::Nodes { version }, async {
                let table = NodeTable::build(db, seeds, Utc::now()).await?;
                Ok(Entry::Nodes(Arc::new(table)))
            })
            .await;
        Some(entry.and_then(|entry| match entry {
            Entry::Nodes(table) => Ok(table),
            _ => unreachable_entry(),
        }))
    }

    /// The ids `ordering` selects at `version`, in order: by id straight from `table`, else one
    /// statement, computed once.
    pub async fn ordering(
        &self,
        db: &DatabaseConnection,
        table: &NodeTable,
        version: i64,
        ordering: &Ordering,
    ) -> Result<Arc<[i64]>, CacheError> {
        if ordering.is_by_id() {
            let mut ids = table.ids();
            if ordering.order == view::query::Order::Desc {
                ids.reverse();
            }
            return Ok(ids.into());
        }
        let Some(entries) = &self.entries else {
            return Err(Arc::new(ViewError::NotCached));
        };
        let key = Key::Ordering {
            version,
            ordering: ordering.clone(),
        };
        let entry = self
            .get_or_compute(entries, key, async {
                let selection = view::select(db, &ordering.clone().into_query()).await?;
                Ok(Entry::Ordering(selection.ids.into()))
            })
            .await?;
        match entry {
            Entry::Ordering(ids) => Ok(ids),
            _ => unreachable_entry(),
        }
    }

    /// The answer `what` of `version` in `encoding`: `body` (computed once) encoded once.
    pub async fn body<F>(
        &self,
        version: i64,
        what: String,
        encoding: Encoding,
        body: F,
    ) -> Result<Bytes, CacheError>
    where
        F: Future<Output = Result<Bytes, ViewError>>,
    {
        let Some(entries) = &self.entries else {
            return Err(Arc::new(ViewError::NotCached));
        };
        self.saw(entries, version);
        let key = Key::Body {
            version,
            what,
            encoding,
        };
        let entry = self
            .get_or_compute(entries, key, async {
                let body = body.await?;
                let encoded = match encoding {
                    Encoding::Identity => body,
                    _ => compression::encode(&body, encoding).map_err(ViewError::Compress)?,
                };
                Ok(Entry::Body(encoded))
            })
            .await?;
        match entry {
            Entry::Body(bytes) => Ok(bytes),
            _ => unreachable_entry(),
        }
    }
}

/// Each key holds one kind of entry: another kind under it is a bug of this module.
fn unreachable_entry<T>() -> Result<T, CacheError> {
    Err(Arc::new(ViewError::Internal(
        "a cache key holds another kind of entry",
    )))
}
