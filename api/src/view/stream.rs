//! The whole network as one JSON document, written a chunk of nodes at a time so that memory stays
//! flat however many nodes there are.

use actix_web::web::Bytes;
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt, stream};
use sea_orm::DatabaseConnection;

use super::{CHUNK, ViewError, cost::RequestCost, load};
use crate::seeds::Seed;

/// `{"seeds":[...],"globalPnodes":[...]}` for `ids`, in order. A database failure part-way ends
/// the stream with an error (the client sees a cut, invalid document, never a wrong one). `cost`
/// counts the chunks' statements and rows, and is recorded when the stream ends or is dropped.
pub fn body(
    db: DatabaseConnection,
    seeds: &[Seed],
    ids: Vec<i64>,
    now: DateTime<Utc>,
    cost: RequestCost,
) -> impl Stream<Item = Result<Bytes, ViewError>> + use<> {
    let head = serde_json::to_vec(seeds).map(|seeds| {
        let mut head = b"{\"seeds\":".to_vec();
        head.extend_from_slice(&seeds);
        head.extend_from_slice(b",\"globalPnodes\":[");
        Bytes::from(head)
    });
    let head = stream::once(async move { head.map_err(ViewError::from) });
    let cursor = Cursor {
        db,
        ids,
        next: 0,
        written: 0,
        now,
        cost,
    };
    let chunks = stream::unfold(Some(cursor), |cursor| async move {
        let mut cursor = cursor?;
        if cursor.next >= cursor.ids.len() {
            return Some((Ok(Bytes::from_static(b"]}")), None));
        }
        match cursor.chunk().await {
            Ok(bytes) => Some((Ok(bytes), Some(cursor))),
            Err(err) => Some((Err(err), None)),
        }
    });
    head.chain(chunks)
}

struct Cursor {
    db: DatabaseConnection,
    ids: Vec<i64>,
    next: usize,
    /// Nodes written so far (a node deleted since the selection is skipped).
    written: usize,
    now: DateTime<Utc>,
    cost: RequestCost,
}

impl Cursor {
    /// The next chunk's nodes as JSON array elements, comma-separated from what came before.
    async fn chunk(&mut self) -> Result<Bytes, ViewError> {
        let end = (self.next + CHUNK).min(self.ids.len());
        let ids = &self.ids[self.next..end];
        let nodes = self
            .cost
            .statements()
            .count(load(&self.db, ids, self.now))
            .await?;
        self.cost.loaded(&nodes);
        let mut out = Vec::with_capacity(nodes.len() * 640);
        for node in &nodes {
            if self.written > 0 {
                out.push(b',');
            }
            serde_json::to_writer(&mut out, node)?;
            self.written += 1;
        }
        self.next = end;
        Ok(Bytes::from(out))
    }
}
