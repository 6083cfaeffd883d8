//! The whole network written a chunk of nodes at a time, so that memory stays flat however many
//! nodes there are: as one JSON document here, as CSV in `crate::web::export`. The next chunk is read
//! while the current one is written, so the database and the encoding overlap.

use actix_web::web::Bytes;
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt, stream};
use sea_orm::DatabaseConnection;

use super::{
    CHUNK, ViewError, cost::RequestCost, load, model::GlobalPnode, model::nodes_body_head,
    query::Scope,
};
use crate::domain::seeds::Seed;

/// Chunks being read at once: the one being written and the next.
const CHUNKS_IN_FLIGHT: usize = 2;

/// The nodes `ids`, in order, [`CHUNK`] at a time. `cost` counts the chunks' statements and rows,
/// and is recorded when the stream ends or is dropped.
pub(crate) fn chunks(
    db: DatabaseConnection,
    ids: &[i64],
    now: DateTime<Utc>,
    scope: Scope,
    mut cost: RequestCost,
) -> impl Stream<Item = Result<Vec<GlobalPnode>, ViewError>> + use<> {
    let counter = cost.statements().clone();
    let chunks: Vec<Vec<i64>> = ids.chunks(CHUNK).map(<[i64]>::to_vec).collect();
    stream::iter(chunks)
        .map(move |chunk| {
            let (db, counter, scope) = (db.clone(), counter.clone(), scope.clone());
            async move { counter.count(load(&db, &chunk, now, &scope)).await }
        })
        .buffered(CHUNKS_IN_FLIGHT)
        .map(move |nodes| {
            let nodes = nodes?;
            cost.loaded(&nodes);
            Ok(nodes)
        })
}

/// `pieces` up to and including its first failure: nothing after a failure is sent. A JSON client
/// then holds an invalid document, never a wrong one; a CSV one fewer rows than `X-Row-Count`
/// says (and, on HTTP/1.1, a chunked body without its last chunk).
pub(crate) fn until_failure<S>(pieces: S) -> impl Stream<Item = Result<Bytes, ViewError>>
where
    S: Stream<Item = Result<Bytes, ViewError>>,
{
    pieces.scan(false, |failed, piece| {
        let item = (!*failed).then(|| {
            *failed = piece.is_err();
            piece
        });
        std::future::ready(item)
    })
}

/// `{"seeds":[...],"globalPnodes":[...]}` for `ids`, in order. A database failure part-way ends
/// the stream with an error, the closing bracket not sent.
pub(crate) fn body(
    db: DatabaseConnection,
    seeds: &[Seed],
    ids: Vec<i64>,
    now: DateTime<Utc>,
    scope: Scope,
    cost: RequestCost,
) -> impl Stream<Item = Result<Bytes, ViewError>> + use<> {
    let head =
        serde_json::to_vec(seeds).map(|seeds| Bytes::from(nodes_body_head(&seeds, "globalPnodes")));
    let head = stream::once(async move { head.map_err(ViewError::from) });
    let mut written = 0_usize;
    let nodes = chunks(db, &ids, now, scope, cost).map(move |nodes| {
        let nodes = nodes?;
        let mut out = Vec::with_capacity(nodes.len() * 900);
        for node in &nodes {
            if written > 0 {
                out.push(b',');
            }
            serde_json::to_writer(&mut out, node)?;
            written += 1;
        }
        Ok(Bytes::from(out))
    });
    let tail = stream::once(async { Ok(Bytes::from_static(b"]}")) });
    until_failure(head.chain(nodes).chain(tail))
}
