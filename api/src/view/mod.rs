//! The global pnode view: what every node looks like now, and who has seen it.
//!
//! A request's statements never depend on the depth of history: one to list the seeds, one to
//! select and order the node ids, then two per chunk of [`CHUNK`] nodes (details with their newest
//! observation, shown stats sample and credits; and the seed mapping). A page is loaded in one go
//! (at most 1,000 nodes: two statements), so 4 statements whatever the node count; the full view
//! of n nodes costs 2 + 2·⌈n/500⌉. Only ids are held for the whole selection; the full view's rows
//! are built one chunk at a time.

pub(crate) mod cost;
mod error;
pub(crate) mod leaderboard;
pub(crate) mod model;
pub(crate) mod overload;
pub(crate) mod query;
mod row;
pub(crate) mod sql;
pub(crate) mod stream;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{pnode, pnode_gossip_observation as observation, pnode_seed_sighting as sighting};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IdenStatic, QueryFilter, QueryOrder,
    QuerySelect,
};

pub use self::error::ViewError;
use self::{
    model::{GlobalPnode, Pagination},
    query::{Order, PnodeQuery, Scope, SortKey},
    row::Details,
};
use crate::domain::seeds::{Seed, Seeds};

/// Nodes built and sent at a time by the streamed full view.
pub const CHUNK: usize = 500;

/// The nodes a query selects, in order, after `offset` and `limit`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    pub ids: Vec<i64>,
    /// Nodes matching the filters, before paging.
    pub total: u64,
}

/// One page of a query: its nodes and where it sits in the whole selection.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub nodes: Vec<GlobalPnode>,
    pub pagination: Pagination,
}

/// Selects and orders the nodes of `query` (one statement), then applies its page.
pub async fn select(db: &impl ConnectionTrait, query: &PnodeQuery) -> Result<Selection, DbErr> {
    let statement = sql::ordered_ids(db.get_database_backend(), query);
    let rows = db.query_all_raw(statement).await?;
    let mut ordered = Vec::with_capacity(rows.len());
    for row in &rows {
        let id: i64 = row.try_get("", pnode::Column::Id.as_str())?;
        let version: Option<String> = if query.sort == SortKey::Version {
            row.try_get("", observation::Column::Version.as_str())?
        } else {
            None
        };
        ordered.push((id, version));
    }
    if query.sort == SortKey::Version {
        sort_by_version(&mut ordered, query.order);
    }
    let total = ordered.len() as u64;
    let offset = usize::try_from(query.offset).unwrap_or(usize::MAX);
    let limit = query
        .limit
        .map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
    let ids = ordered
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|(id, _)| id)
        .collect();
    Ok(Selection { ids, total })
}

/// Version order is numeric, which SQL cannot do portably: the rows arrive ordered by id in the
/// requested direction, and a stable sort keeps that as the tie-break. Nulls go last either way.
fn sort_by_version(rows: &mut [(i64, Option<String>)], order: Order) {
    rows.sort_by(|(_, a), (_, b)| match (a, b) {
        (None, None) => std::cmp::Ordering::Equal,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (Some(_), None) => std::cmp::Ordering::Less,
        (Some(x), Some(y)) => match order {
            Order::Asc => crate::domain::version::compare(x, y),
            Order::Desc => crate::domain::version::compare(y, x),
        },
    });
}

/// The page `query.limit` asks for (three statements: the selection, then one chunk's details
/// and sightings).
pub async fn page(
    db: &impl ConnectionTrait,
    query: &PnodeQuery,
    limit: u64,
    now: DateTime<Utc>,
    cost: &mut cost::RequestCost,
) -> Result<Page, DbErr> {
    let selection = cost.statements().count(select(db, query)).await?;
    cost.selected(selection.total);
    let nodes = cost
        .statements()
        .count(load(db, &selection.ids, now, &query.scope))
        .await?;
    cost.loaded(&nodes);
    let pagination = Pagination {
        total: selection.total,
        limit,
        offset: query.offset,
        has_more: query.offset.saturating_add(nodes.len() as u64) < selection.total,
    };
    Ok(Page { nodes, pagination })
}

/// Builds the nodes `ids`, in that order, as `scope` sees them (two statements). A node deleted
/// since it was selected (or out of the scope) is left out.
pub async fn load(
    db: &impl ConnectionTrait,
    ids: &[i64],
    now: DateTime<Utc>,
    scope: &Scope,
) -> Result<Vec<GlobalPnode>, DbErr> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = db
        .query_all_raw(sql::details(db.get_database_backend(), ids, now, scope))
        .await?;
    let sightings: Vec<(i64, String)> = sighting::Entity::find()
        .select_only()
        .columns([sighting::Column::PnodeId, sighting::Column::SeedBaseUrl])
        .filter(sighting::Column::PnodeId.is_in(ids.iter().copied()))
        .order_by_asc(sighting::Column::PnodeId)
        .order_by_asc(sighting::Column::SeedBaseUrl)
        .into_tuple()
        .all(db)
        .await?;

    let mut seen: HashMap<i64, Vec<String>> = HashMap::with_capacity(ids.len());
    for (pnode_id, seed_base_url) in sightings {
        seen.entry(pnode_id).or_default().push(seed_base_url);
    }
    let mut by_id: HashMap<i64, Details> = HashMap::with_capacity(rows.len());
    for row in &rows {
        let details = Details::from_row(row)?;
        by_id.insert(details.id(), details);
    }
    Ok(ids
        .iter()
        .filter_map(|id| by_id.remove(id))
        .map(|details| {
            let seeds = seen.remove(&details.id()).unwrap_or_default();
            details.into_pnode(seeds)
        })
        .collect())
}

/// The seeds to list beside the nodes: the configured ones, then every other seed that has
/// reported a node (one statement), so that every seed a node names is listed on every replica,
/// whether or not it configures seeds.
pub async fn seeds(db: &impl ConnectionTrait, configured: &Seeds) -> Result<Vec<Seed>, DbErr> {
    let seen: Vec<(String, String)> = sighting::Entity::find()
        .select_only()
        .column(pnode::Column::Network)
        .column(sighting::Column::SeedBaseUrl)
        .inner_join(pnode::Entity)
        .distinct()
        .order_by_asc(sighting::Column::SeedBaseUrl)
        .order_by_asc(pnode::Column::Network)
        .into_tuple()
        .all(db)
        .await?;
    Ok(configured.listed_with(seen))
}

/// Which node a pubkey (and a network, when the request names one) is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved<T> {
    /// No node has this pubkey (on that network).
    Missing,
    Node(T),
    /// The pubkey is a node on each of these networks (sorted), and none was named.
    Ambiguous(Vec<String>),
}

impl<T> Resolved<T> {
    /// The node, or the error a request for `pubkey` gets: not found (404), or on several
    /// networks (409).
    pub fn found(self, pubkey: &str) -> Result<T, ViewError> {
        match self {
            Self::Node(node) => Ok(node),
            Self::Missing => Err(ViewError::NotFound(format!(
                "no pnode has pubkey {}",
                crate::domain::params::excerpt(pubkey)
            ))),
            Self::Ambiguous(networks) => Err(ViewError::Ambiguous {
                pubkey: pubkey.to_owned(),
                networks,
            }),
        }
    }

    /// The pubkey's node among `candidates` (its nodes, each with its network): the one on
    /// `network` when it is named, else its only one.
    pub fn among(candidates: Vec<(String, T)>, network: Option<&str>) -> Self {
        let mut candidates: Vec<(String, T)> = match network {
            Some(network) => candidates
                .into_iter()
                .filter(|(on, _)| on == network)
                .collect(),
            None => candidates,
        };
        match candidates.len() {
            0 => Self::Missing,
            1 => candidates
                .pop()
                .map_or(Self::Missing, |(_, node)| Self::Node(node)),
            _ => {
                let mut networks: Vec<String> =
                    candidates.into_iter().map(|(network, _)| network).collect();
                networks.sort();
                Self::Ambiguous(networks)
            }
        }
    }
}

/// The id and network of the node with this pubkey (on `network`, when named): one statement.
pub async fn id_of(
    db: &impl ConnectionTrait,
    pubkey: &str,
    network: Option<&str>,
) -> Result<Resolved<(i64, String)>, DbErr> {
    let nodes: Vec<(String, i64)> = pnode::Entity::find()
        .select_only()
        .column(pnode::Column::Network)
        .column(pnode::Column::Id)
        .filter(pnode::Column::Pubkey.eq(pubkey))
        .into_tuple()
        .all(db)
        .await?;
    let nodes = nodes
        .into_iter()
        .map(|(on, id)| (on.clone(), (id, on)))
        .collect();
    Ok(Resolved::among(nodes, network))
}

/// The node with this pubkey (on `network`, when named): three statements when it exists.
pub async fn find(
    db: &impl ConnectionTrait,
    pubkey: &str,
    network: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Resolved<GlobalPnode>, DbErr> {
    let id = match id_of(db, pubkey, network).await? {
        Resolved::Node((id, _)) => id,
        Resolved::Missing => return Ok(Resolved::Missing),
        Resolved::Ambiguous(networks) => return Ok(Resolved::Ambiguous(networks)),
    };
    let node = load(db, &[id], now, &Scope::Network)
        .await?
        .into_iter()
        .next();
    Ok(node.map_or(Resolved::Missing, Resolved::Node))
}
