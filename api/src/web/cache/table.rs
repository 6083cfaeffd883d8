//! The whole network at one data version, each node encoded as JSON once: every full view, page
//! and single node of that version is cut from it, in any order, without touching the database.

use std::collections::HashMap;

use actix_web::web::Bytes;
use chrono::{DateTime, Utc};
use sea_orm::{AccessMode, DatabaseConnection, DbBackend, IsolationLevel, TransactionTrait};

use crate::{
    db::version,
    domain::seeds::Seeds,
    view::{
        self, CHUNK, Resolved, ViewError,
        model::{Pagination, nodes_body_head},
        query::{PnodeQuery, Scope},
    },
};

/// One node's place in the buffer.
#[derive(Debug, Clone, Copy)]
struct Slot {
    id: i64,
    start: u32,
    end: u32,
}

/// See the module documentation.
#[derive(Debug)]
pub(crate) struct NodeTable {
    /// The `seeds` array, as JSON.
    seeds: Bytes,
    /// Every node's JSON in id order, separated by commas: the body of `globalPnodes`.
    buffer: Bytes,
    /// Each node's bytes in `buffer`, by ascending id.
    slots: Vec<Slot>,
    /// Index into `slots` by pubkey, of the node on each network (most pubkeys are on one).
    by_pubkey: HashMap<Box<str>, Vec<(u16, u32)>>,
    /// The networks of the nodes, indexed by `by_pubkey`'s first number.
    networks: Vec<Box<str>>,
}

impl NodeTable {
    /// Reads every node in one read transaction (a consistent snapshot: repeatable read on
    /// PostgreSQL; SQLite's WAL gives each transaction one), chunk by chunk, with the version
    /// the snapshot holds.
    pub(crate) async fn build(
        db: &DatabaseConnection,
        configured: &Seeds,
        now: DateTime<Utc>,
    ) -> Result<Self, ViewError> {
        let txn = match db.get_database_backend() {
            DbBackend::Postgres => {
                db.begin_with_config(
                    Some(IsolationLevel::RepeatableRead),
                    Some(AccessMode::ReadOnly),
                )
                .await?
            }
            _ => db.begin().await?,
        };
        let version = version::current(&txn).await?.version;
        let seeds = Bytes::from(serde_json::to_vec(&view::seeds(&txn, configured).await?)?);
        let ids = view::select(&txn, &PnodeQuery::default()).await?.ids;
        let mut buffer = Vec::with_capacity(ids.len() * 900);
        let mut slots = Vec::with_capacity(ids.len());
        let mut by_pubkey: HashMap<Box<str>, Vec<(u16, u32)>> = HashMap::with_capacity(ids.len());
        let mut networks: Vec<Box<str>> = Vec::new();
        for chunk in ids.chunks(CHUNK) {
            for node in view::load(&txn, chunk, now, &Scope::Network).await? {
                if !slots.is_empty() {
                    buffer.push(b',');
                }
                let start = offset(buffer.len())?;
                serde_json::to_writer(&mut buffer, &node)?;
                let network = match networks.iter().position(|n| **n == *node.network) {
                    Some(known) => known,
                    None => {
                        networks.push(node.network.into_boxed_str());
                        networks.len() - 1
                    }
                };
                let network = u16::try_from(network).map_err(|_| ViewError::TooLarge)?;
                by_pubkey
                    .entry(node.pubkey.into_boxed_str())
                    .or_default()
                    .push((network, offset(slots.len())?));
                slots.push(Slot {
                    id: node.id,
                    start,
                    end: offset(buffer.len())?,
                });
            }
        }
        txn.commit().await?;
        buffer.shrink_to_fit();
        tracing::debug!(
            version,
            nodes = slots.len(),
            bytes = buffer.len(),
            "built the node table"
        );
        Ok(Self {
            seeds,
            buffer: Bytes::from(buffer),
            slots,
            by_pubkey,
            networks,
        })
    }

    /// Bytes held, for the cache's bound.
    pub(crate) fn weight(&self) -> usize {
        self.seeds.len()
            + self.buffer.len()
            + self.slots.len() * std::mem::size_of::<Slot>()
            + self
                .by_pubkey
                .iter()
                .map(|(key, nodes)| {
                    key.len() + 5 * std::mem::size_of::<usize>() + 8 * nodes.capacity()
                })
                .sum::<usize>()
    }

    fn slice(&self, slot: &Slot) -> Bytes {
        self.buffer.slice(slot.start as usize..slot.end as usize)
    }

    fn by_id(&self, id: i64) -> Option<&Slot> {
        self.slots
            .binary_search_by_key(&id, |slot| slot.id)
            .ok()
            .map(|index| &self.slots[index])
    }

    /// The node with this pubkey (on `network`, when named), as JSON.
    pub(crate) fn node(&self, pubkey: &str, network: Option<&str>) -> Resolved<Bytes> {
        let nodes = self.by_pubkey.get(pubkey).map_or(&[][..], Vec::as_slice);
        let candidates = nodes
            .iter()
            .map(|&(on, index)| {
                let on = self.networks.get(usize::from(on)).map_or("", |n| &**n);
                (on.to_owned(), index)
            })
            .collect();
        match Resolved::among(candidates, network) {
            Resolved::Node(index) => Resolved::Node(self.slice(&self.slots[index as usize])),
            Resolved::Missing => Resolved::Missing,
            Resolved::Ambiguous(networks) => Resolved::Ambiguous(networks),
        }
    }

    /// `{"seeds":…,"globalPnodes":[…]}` with every node by id, in pieces to send one after
    /// another (the nodes are not copied).
    pub(crate) fn full_view_by_id(&self, descending: bool) -> Vec<Bytes> {
        if descending {
            let ids: Vec<i64> = self.slots.iter().rev().map(|slot| slot.id).collect();
            return vec![self.full_view(&ids)];
        }
        vec![
            self.head("globalPnodes"),
            self.buffer.clone(),
            Bytes::from_static(b"]}"),
        ]
    }

    /// `{"seeds":…,"globalPnodes":[…]}` with the nodes `ids`, in that order (an id no longer in
    /// the table is left out).
    pub(crate) fn full_view(&self, ids: &[i64]) -> Bytes {
        let mut out = self.head("globalPnodes").to_vec();
        self.write_nodes(&mut out, ids);
        out.extend_from_slice(b"]}");
        Bytes::from(out)
    }

    /// `{"seeds":…,"pnodes":[…],"pagination":…}`: `limit` nodes of `ids` from `offset`.
    pub(crate) fn page(&self, ids: &[i64], offset: u64, limit: u64) -> Result<Bytes, ViewError> {
        let total = ids.len() as u64;
        let start = usize::try_from(offset).unwrap_or(usize::MAX).min(ids.len());
        let end = start
            .saturating_add(usize::try_from(limit).unwrap_or(usize::MAX))
            .min(ids.len());
        let page = &ids[start..end];
        let mut out = self.head("pnodes").to_vec();
        self.write_nodes(&mut out, page);
        out.extend_from_slice(b"],\"pagination\":");
        serde_json::to_writer(
            &mut out,
            &Pagination {
                total,
                limit,
                offset,
                has_more: (end as u64) < total,
            },
        )?;
        out.push(b'}');
        Ok(Bytes::from(out))
    }

    /// The ids of every node, by id.
    pub(crate) fn ids(&self) -> Vec<i64> {
        self.slots.iter().map(|slot| slot.id).collect()
    }

    fn head(&self, nodes: &str) -> Bytes {
        Bytes::from(nodes_body_head(&self.seeds, nodes))
    }

    fn write_nodes(&self, out: &mut Vec<u8>, ids: &[i64]) {
        let mut first = true;
        for slot in ids.iter().filter_map(|&id| self.by_id(id)) {
            if !first {
                out.push(b',');
            }
            first = false;
            out.extend_from_slice(&self.buffer[slot.start as usize..slot.end as usize]);
        }
    }
}

/// A position in the buffer: a table past 4 GiB is refused rather than wrapped.
fn offset(at: usize) -> Result<u32, ViewError> {
    u32::try_from(at).map_err(|_| ViewError::TooLarge)
}
