//! The view cache: what the view's endpoints answer for one *stamp* (the data version, and for
//! answers that move with the clock the collection interval the clock is in; see
//! `http::Freshness`), computed once and served to every poller from memory until the database
//! holds a newer version.
//!
//! Three kinds of entry, each keyed by the stamp it belongs to:
//! - the node table: every node encoded once ([`NodeTable`]);
//! - an ordering: the ids one filter and sort select, in order (one statement);
//! - an encoded body: an answer compressed (or, for small answers, just written) once.
//!
//! A page of any ordering is a slice of it, cut from the node table: O(page). Entries are held in
//! an LRU cache bounded in bytes (`PNODE_VIEW_CACHE_MB`); concurrent requests for an entry that
//! is missing compute it once (single-flight) and all get it. Entries of older stamps are
//! dropped as soon as a newer one is seen. A network whose node table alone is larger than the
//! bound is not cached at all (it would be evicted as soon as built): its answers are read from
//! the database, and a warning says so.

mod answers;
mod metrics;
mod table;

use std::sync::{
    Arc,
    atomic::{AtomicBool, AtomicI64, Ordering as AtomicOrdering},
};

use actix_web::web::Bytes;
use chrono::Utc;
use moka::{future::Cache, notification::RemovalCause, policy::EvictionPolicy};
use sea_orm::DatabaseConnection;

pub(crate) use self::{answers::Answer, metrics::CacheMetrics, table::NodeTable};
use crate::{
    domain::seeds::Seeds,
    view::{self, ViewError, overload::FullViewGate, query::Ordering},
    web::compression::{self, Encoding},
};

/// What the cache keeps, and for which version.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Nodes {
        stamp: i64,
    },
    Ordering {
        stamp: i64,
        ordering: Ordering,
    },
    /// An answer as sent: `what` is the endpoint and its canonical query.
    Body {
        stamp: i64,
        what: String,
        encoding: Encoding,
    },
}

impl Key {
    fn stamp(&self) -> i64 {
        match self {
            Self::Nodes { stamp } | Self::Ordering { stamp, .. } | Self::Body { stamp, .. } => {
                *stamp
            }
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
pub(crate) type CacheError = Arc<ViewError>;

/// See the module documentation.
#[derive(Debug)]
pub(crate) struct ViewCache {
    /// `None` when caching is off (a capacity of 0).
    entries: Option<Cache<Key, Entry>>,
    metrics: CacheMetrics,
    /// The newest stamp seen; entries of older ones are invalidated when it moves.
    newest: AtomicI64,
    capacity: u64,
    /// Set once a node table was larger than the whole cache: from then on nothing is cached.
    oversized: AtomicBool,
    /// The bound full views are computed under.
    full_views: Arc<FullViewGate>,
}

impl ViewCache {
    /// A cache holding at most `capacity` bytes (0: no cache), computing full views under
    /// `full_views`.
    pub(crate) fn new(capacity: u64, full_views: Arc<FullViewGate>) -> Self {
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
            capacity,
            oversized: AtomicBool::new(false),
            full_views,
        }
    }

    /// Whether answers are cached at all.
    pub(crate) fn is_enabled(&self) -> bool {
        self.entries.is_some() && !self.oversized.load(AtomicOrdering::Relaxed)
    }

    fn entries(&self) -> Option<&Cache<Key, Entry>> {
        self.entries.as_ref().filter(|_| self.is_enabled())
    }

    /// The cache's counters, to register with `/metrics`.
    pub(crate) fn metrics(&self) -> &CacheMetrics {
        &self.metrics
    }

    /// Brings the cache's own count of bytes held (its bound applies to it) up to date in its
    /// metrics, after its pending evictions.
    pub(crate) async fn refresh_size(&self) {
        if let Some(entries) = &self.entries {
            entries.run_pending_tasks().await;
            self.metrics.set_bytes(entries.weighted_size());
        }
    }

    /// Tells the cache the stamp a request found; entries of older stamps go.
    fn saw(&self, entries: &Cache<Key, Entry>, stamp: i64) {
        let before = self.newest.fetch_max(stamp, AtomicOrdering::Relaxed);
        if stamp > before {
            // Only fails when closures are unsupported, and they are turned on above.
            let _ = entries.invalidate_entries_if(move |key, _| key.stamp() < stamp);
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

    /// The node table of `stamp`, built once. `None` when the cache is off or the network too
    /// large for it.
    pub(crate) async fn nodes(
        &self,
        db: &DatabaseConnection,
        seeds: &Seeds,
        stamp: i64,
    ) -> Option<Result<Arc<NodeTable>, CacheError>> {
        let entries = self.entries()?;
        self.saw(entries, stamp);
        let entry = self
            .get_or_compute(entries, Key::Nodes { stamp }, async {
                let table = NodeTable::build(db, seeds, Utc::now()).await?;
                Ok(Entry::Nodes(Arc::new(table)))
            })
            .await;
        let table = match entry {
            Ok(Entry::Nodes(table)) => table,
            Ok(_) => return Some(unreachable_entry()),
            Err(err) => return Some(Err(err)),
        };
        if table.weight() as u64 > self.capacity {
            if !self.oversized.swap(true, AtomicOrdering::Relaxed) {
                tracing::warn!(
                    table_bytes = table.weight(),
                    cache_bytes = self.capacity,
                    "the network is larger than the view cache (PNODE_VIEW_CACHE_MB): answers \
                     are read from the database from now on"
                );
                entries.invalidate_all();
            }
            return None;
        }
        Some(Ok(table))
    }

    /// The ids `ordering` selects, in order: by id straight from `table`, else one statement
    /// computed once per stamp. (It reads the database apart from the table: a write landing in
    /// between is seen by one and not the other, for the requests that read the version before
    /// it only; the write's new version is a new stamp for every request after it.)
    pub(crate) async fn ordering(
        &self,
        db: &DatabaseConnection,
        table: &NodeTable,
        stamp: i64,
        ordering: &Ordering,
    ) -> Result<Arc<[i64]>, CacheError> {
        if ordering.is_by_id() {
            let mut ids = table.ids();
            if ordering.order == view::query::Order::Desc {
                ids.reverse();
            }
            return Ok(ids.into());
        }
        let select = async {
            let selection = view::select(db, &ordering.clone().into_query()).await?;
            Ok::<_, ViewError>(Arc::<[i64]>::from(selection.ids))
        };
        let Some(entries) = self.entries() else {
            return select.await.map_err(Arc::new);
        };
        let key = Key::Ordering {
            stamp,
            ordering: ordering.clone(),
        };
        let entry = self
            .get_or_compute(entries, key, async { Ok(Entry::Ordering(select.await?)) })
            .await?;
        match entry {
            Entry::Ordering(ids) => Ok(ids),
            _ => unreachable_entry(),
        }
    }

    /// The answer `what` at `stamp` in `encoding`: `body` (computed once) encoded once, off the
    /// HTTP workers (compressing a large view takes a while).
    pub(crate) async fn body<F>(
        &self,
        stamp: i64,
        what: String,
        encoding: Encoding,
        body: F,
    ) -> Result<Bytes, CacheError>
    where
        F: Future<Output = Result<Bytes, ViewError>>,
    {
        // Boxed: the futures of a view's body nest deeply, and kept inline they outgrow a
        // worker's stack in a debug build.
        let compute = Box::pin(async {
            let body = body.await?;
            match encoding {
                Encoding::Identity => Ok(body),
                _ => tokio::task::spawn_blocking(move || compression::encode(&body, encoding))
                    .await
                    .map_err(|err| ViewError::Compress(std::io::Error::other(err)))?
                    .map_err(ViewError::Compress),
            }
        });
        let Some(entries) = self.entries() else {
            return compute.await.map_err(Arc::new);
        };
        self.saw(entries, stamp);
        let key = Key::Body {
            stamp,
            what,
            encoding,
        };
        let entry = self
            .get_or_compute(entries, key, async { Ok(Entry::Body(compute.await?)) })
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
