//! The answers of the view's endpoints, cut from the cache: a full view or page of any query, one
//! node, each in the encoding asked for.

use actix_web::web::Bytes;
use sea_orm::DatabaseConnection;

use super::{CacheError, ViewCache};
use crate::{
    compression::Encoding,
    seeds::Seeds,
    view::{ViewError, query::PnodeQuery},
};

/// A body ready to send.
#[derive(Debug)]
pub enum Answer {
    /// Identity pieces to send one after another (the whole view by id, copied from nothing).
    Pieces(Vec<Bytes>),
    /// One body, in the encoding asked for.
    Body(Bytes),
}

impl ViewCache {
    /// `/api/pnodes` for `query` at `version`, in `encoding`; `None` when caching is off.
    pub async fn pnodes(
        &self,
        db: &DatabaseConnection,
        seeds: &Seeds,
        version: i64,
        query: &PnodeQuery,
        encoding: Encoding,
    ) -> Option<Result<Answer, CacheError>> {
        let table = match self.nodes(db, seeds, version).await? {
            Ok(table) => table,
            Err(err) => return Some(Err(err)),
        };
        let ordering = query.ordering();
        Some(
            async {
                if encoding == Encoding::Identity && query.limit.is_none() && ordering.is_by_id() {
                    let descending = ordering.order == crate::view::query::Order::Desc;
                    return Ok(Answer::Pieces(table.full_view_by_id(descending)));
                }
                let ids = self.ordering(db, &table, version, &ordering).await?;
                let body = || async {
                    match query.limit {
                        Some(limit) => table.page(&ids, query.offset, limit),
                        None => Ok::<_, ViewError>(table.full_view(&ids)),
                    }
                };
                if encoding == Encoding::Identity {
                    // Cutting an identity answer costs no more than copying it from a cache.
                    return Ok(Answer::Body(body().await.map_err(std::sync::Arc::new)?));
                }
                let what = format!("/api/pnodes?{}", query.canonical());
                Ok(Answer::Body(
                    self.body(version, what, encoding, body()).await?,
                ))
            }
            .await,
        )
    }

    /// `/api/pnodes/{pubkey}` at `version`, in `encoding`: `Some(None)` when no node has this
    /// pubkey; `None` when caching is off.
    pub async fn pnode(
        &self,
        db: &DatabaseConnection,
        seeds: &Seeds,
        version: i64,
        pubkey: &str,
        encoding: Encoding,
    ) -> Option<Result<Option<Bytes>, CacheError>> {
        let table = match self.nodes(db, seeds, version).await? {
            Ok(table) => table,
            Err(err) => return Some(Err(err)),
        };
        let Some(node) = table.node(pubkey) else {
            return Some(Ok(None));
        };
        if encoding == Encoding::Identity {
            return Some(Ok(Some(node)));
        }
        let what = format!("/api/pnodes/{pubkey}");
        Some(
            self.body(version, what, encoding, async { Ok(node) })
                .await
                .map(Some),
        )
    }
}
