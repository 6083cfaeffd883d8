//! The answers of the view's endpoints, cut from the cache: a full view or page of any query, one
//! node, each in the encoding asked for.

use actix_web::web::Bytes;
use sea_orm::DatabaseConnection;

use super::{CacheError, ViewCache};
use crate::{
    domain::seeds::Seeds,
    view::{
        Resolved, ViewError,
        query::{Order, PnodeQuery},
    },
    web::compression::Encoding,
};

/// A body ready to send.
#[derive(Debug)]
pub(crate) enum Answer {
    /// Identity pieces to send one after another (the whole view by id, copied from nothing).
    Pieces(Vec<Bytes>),
    /// One body, in the encoding asked for.
    Body(Bytes),
}

impl ViewCache {
    /// `/api/pnodes` for `query` (the question `what`) at `stamp`, in `encoding`; `None` when
    /// the cache is off or the network is too large for it.
    pub(crate) async fn pnodes(
        &self,
        db: &DatabaseConnection,
        seeds: &Seeds,
        stamp: i64,
        query: &PnodeQuery,
        what: String,
        encoding: Encoding,
    ) -> Option<Result<Answer, CacheError>> {
        let table = match self.nodes(db, seeds, stamp).await? {
            Ok(table) => table,
            Err(err) => return Some(Err(err)),
        };
        let ordering = query.ordering();
        let by_id = ordering.is_by_id();
        if encoding == Encoding::Identity && query.limit.is_none() && by_id {
            let descending = ordering.order == Order::Desc;
            return Some(Ok(Answer::Pieces(table.full_view_by_id(descending))));
        }
        // The body of any order, filter and page: the ordering's ids, cut from the table.
        let body = Box::pin(async {
            let ids = self
                .ordering(db, &table, stamp, &ordering)
                .await
                .map_err(ViewError::Shared)?;
            match query.limit {
                Some(limit) => table.page(&ids, query.offset, limit),
                None => Ok(table.full_view(&ids)),
            }
        });
        Some(match query.limit {
            // Cutting an identity page costs no more than copying it from a cache.
            Some(_) if encoding == Encoding::Identity => {
                body.await.map(Answer::Body).map_err(std::sync::Arc::new)
            }
            Some(_) => self
                .body(stamp, what, encoding, body)
                .await
                .map(Answer::Body),
            // A full view is kept once, whatever its encoding, so that its copies in flight are
            // one in memory; and computed under the full views' bound.
            None => self
                .body(stamp, what, encoding, async {
                    let _permit = self.full_views.enter().await?;
                    body.await
                })
                .await
                .map(Answer::Body),
        })
    }

    /// `/api/pnodes/{pubkey}` (the question `what`) of `(pubkey, network)` at `stamp`, in
    /// `encoding`: resolved as `view::Resolved` says; `None` when the cache is off or the network
    /// too large for it.
    pub(crate) async fn pnode(
        &self,
        db: &DatabaseConnection,
        seeds: &Seeds,
        stamp: i64,
        (pubkey, network): (&str, Option<&str>),
        what: String,
        encoding: Encoding,
    ) -> Option<Result<Resolved<Bytes>, CacheError>> {
        let table = match self.nodes(db, seeds, stamp).await? {
            Ok(table) => table,
            Err(err) => return Some(Err(err)),
        };
        let node = match table.node(pubkey, network) {
            Resolved::Node(node) => node,
            Resolved::Missing => return Some(Ok(Resolved::Missing)),
            Resolved::Ambiguous(networks) => return Some(Ok(Resolved::Ambiguous(networks))),
        };
        if encoding == Encoding::Identity {
            return Some(Ok(Resolved::Node(node)));
        }
        Some(
            self.body(stamp, what, encoding, async { Ok(node) })
                .await
                .map(Resolved::Node),
        )
    }
}
