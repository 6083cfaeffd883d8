//! The global pnode view: what every node looks like now, and who has seen it.
//!
//! A request costs a fixed number of statements whatever the node count or history depth: one to
//! select and order the node ids, then two per chunk of nodes (details with their newest
//! observation, chosen stats sample and credits; and the seed mapping). Only ids are held for the
//! whole selection; full rows are built one chunk at a time.

pub mod cost;
mod error;
pub mod model;
pub mod query;
pub mod sql;
pub mod stream;
pub mod version;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr, FromQueryResult};

pub use self::error::ViewError;
use self::{
    model::{DetailRow, GlobalPnode},
    query::{Order, PnodeQuery, SortKey},
};

/// Nodes built and sent at a time by the streamed full view.
pub const CHUNK: usize = 500;

/// The nodes a query selects, in order, after `offset` and `limit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    pub ids: Vec<i64>,
    /// Nodes matching the filters, before paging.
    pub total: u64,
}

#[derive(Debug, FromQueryResult)]
struct IdRow {
    id: i64,
    version: Option<String>,
}

#[derive(Debug, FromQueryResult)]
struct SightingRow {
    pnode_id: i64,
    seed_base_url: String,
}

/// Selects and orders the nodes of `query` (one statement).
pub async fn select(db: &impl ConnectionTrait, query: &PnodeQuery) -> Result<Selection, DbErr> {
    let statement = sql::ordered_ids(db.get_database_backend(), query);
    let mut rows = IdRow::find_by_statement(statement).all(db).await?;
    if query.sort == SortKey::Version {
        sort_by_version(&mut rows, query.order);
    }
    let total = rows.len() as u64;
    let offset = usize::try_from(query.offset).unwrap_or(usize::MAX);
    let limit = query
        .limit
        .map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
    let ids = rows
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|row| row.id)
        .collect();
    Ok(Selection { ids, total })
}

/// Version order is numeric, which SQL cannot do portably: the rows arrive ordered by id in the
/// requested direction, and a stable sort keeps that as the tie-break. Nulls go last either way.
fn sort_by_version(rows: &mut [IdRow], order: Order) {
    rows.sort_by(|a, b| match (&a.version, &b.version) {
        (None, None) => std::cmp::Ordering::Equal,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (Some(_), None) => std::cmp::Ordering::Less,
        (Some(x), Some(y)) => match order {
            Order::Asc => version::compare(x, y),
            Order::Desc => version::compare(y, x),
        },
    });
}

/// Builds the nodes `ids`, in that order (two statements). A node deleted since it was selected
/// is left out.
pub async fn load(
    db: &impl ConnectionTrait,
    ids: &[i64],
    now: DateTime<Utc>,
) -> Result<Vec<GlobalPnode>, DbErr> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let backend = db.get_database_backend();
    let details = DetailRow::find_by_statement(sql::details(backend, ids, now))
        .all(db)
        .await?;
    let sightings = SightingRow::find_by_statement(sql::sightings(backend, ids))
        .all(db)
        .await?;

    let mut seen: HashMap<i64, Vec<String>> = HashMap::with_capacity(ids.len());
    for row in sightings {
        seen.entry(row.pnode_id)
            .or_default()
            .push(row.seed_base_url);
    }
    let mut by_id: HashMap<i64, DetailRow> =
        details.into_iter().map(|row| (row.id(), row)).collect();
    Ok(ids
        .iter()
        .filter_map(|id| by_id.remove(id))
        .map(|row| {
            let seeds = seen.remove(&row.id()).unwrap_or_default();
            row.into_pnode(seeds)
        })
        .collect())
}

/// The node with this pubkey, if there is one.
pub async fn find(
    db: &impl ConnectionTrait,
    pubkey: &str,
    now: DateTime<Utc>,
) -> Result<Option<GlobalPnode>, DbErr> {
    let statement = sql::id_of(db.get_database_backend(), pubkey);
    let Some(row) = IdRow::find_by_statement(statement).one(db).await? else {
        return Ok(None);
    };
    Ok(load(db, &[row.id], now).await?.into_iter().next())
}
