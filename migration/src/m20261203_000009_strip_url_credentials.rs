//! A seed's (or the credits source's) URL is its identity everywhere, and its user info is only
//! ever sent as HTTP Basic auth: stored URLs lose theirs (`http://bob:pw@host:6000` becomes
//! `http://host:6000`). A seed sighting that would then name the same (node, seed) as one
//! already stored keeps the one stored and takes the earlier first sighting and the later last
//! one of the two; a run's figures for a seed named both ways keep the ones without user info;
//! every other row is rewritten in place.
//!
//! `down` changes nothing: the user info is gone, and the URLs without it are valid ones.

use sea_orm_migration::{prelude::*, sea_orm::prelude::DateTimeUtc};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        merge_sightings(db).await?;
        for (table, column) in [
            (Table::Observations, Column::SeedBaseUrl),
            (Table::SeedStats, Column::SeedBaseUrl),
            (Table::Samples, Column::SeedBaseUrl),
            (Table::Credits, Column::SourceUrl),
        ] {
            for (old, new) in credentialed(db, table, column).await? {
                if table == Table::SeedStats {
                    // One row per (run, seed): where the run has one without user info too,
                    // that one is kept.
                    let both = Query::select()
                        .column(Column::IngestionRunId)
                        .from(Table::SeedStats)
                        .and_where(Expr::col(Column::SeedBaseUrl).eq(new.as_str()))
                        .to_owned();
                    let duplicate = Query::delete()
                        .from_table(Table::SeedStats)
                        .and_where(Expr::col(Column::SeedBaseUrl).eq(old.as_str()))
                        .and_where(Expr::col(Column::IngestionRunId).in_subquery(both))
                        .to_owned();
                    db.execute(&duplicate).await?;
                }
                let update = Query::update()
                    .table(table)
                    .value(column, new)
                    .and_where(Expr::col(column).eq(old))
                    .to_owned();
                db.execute(&update).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}

/// The URLs of `column` that hold user info, each with its form without it.
async fn credentialed(
    db: &SchemaManagerConnection<'_>,
    table: Table,
    column: Column,
) -> Result<Vec<(String, String)>, DbErr> {
    let select = Query::select()
        .distinct()
        .column(column)
        .from(table)
        .and_where(Expr::col(column).like("%@%"))
        .to_owned();
    let rows = db.query_all(&select).await?;
    let mut pairs = Vec::new();
    for row in rows {
        let url: Option<String> = row.try_get_by_index(0)?;
        if let Some((url, stripped)) = url.and_then(|url| strip(&url).map(|s| (url, s))) {
            pairs.push((url, stripped));
        }
    }
    Ok(pairs)
}

/// Sightings are keyed by (node, seed URL): a rewritten one may meet one stored without user
/// info; the two become one.
async fn merge_sightings(db: &SchemaManagerConnection<'_>) -> Result<(), DbErr> {
    for (old, new) in credentialed(db, Table::Sightings, Column::SeedBaseUrl).await? {
        let select = Query::select()
            .columns([Column::PnodeId, Column::FirstSeenAt, Column::LastSeenAt])
            .from(Table::Sightings)
            .and_where(Expr::col(Column::SeedBaseUrl).eq(old.as_str()))
            .to_owned();
        for row in db.query_all(&select).await? {
            let node: i64 = row.try_get_by_index(0)?;
            let first: DateTimeUtc = row.try_get_by_index(1)?;
            let last: DateTimeUtc = row.try_get_by_index(2)?;
            let same = |url: &str| {
                Expr::col(Column::PnodeId)
                    .eq(node)
                    .and(Expr::col(Column::SeedBaseUrl).eq(url))
            };
            let existing = Query::select()
                .columns([Column::FirstSeenAt, Column::LastSeenAt])
                .from(Table::Sightings)
                .cond_where(same(&new))
                .to_owned();
            let statement = match db.query_one(&existing).await? {
                Some(kept) => {
                    let kept_first: DateTimeUtc = kept.try_get_by_index(0)?;
                    let kept_last: DateTimeUtc = kept.try_get_by_index(1)?;
                    db.execute(
                        &Query::delete()
                            .from_table(Table::Sightings)
                            .cond_where(same(&old))
                            .to_owned(),
                    )
                    .await?;
                    Query::update()
                        .table(Table::Sightings)
                        .value(Column::FirstSeenAt, Ord::min(first, kept_first))
                        .value(Column::LastSeenAt, Ord::max(last, kept_last))
                        .cond_where(same(&new))
                        .to_owned()
                }
                None => Query::update()
                    .table(Table::Sightings)
                    .value(Column::SeedBaseUrl, new.as_str())
                    .cond_where(same(&old))
                    .to_owned(),
            };
            db.execute(&statement).await?;
        }
    }
    Ok(())
}

/// `url` without its user info, when it has some. (The service splits configured URLs the same
/// way, `domain::endpoint::split_credentials`; a migration keeps its own copy, so that it does
/// the same thing whatever the code does later.)
fn strip(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (_, host) = authority.rsplit_once('@')?;
    Some(format!("{scheme}://{host}{tail}"))
}

#[derive(DeriveIden, Clone, Copy, PartialEq, Eq)]
enum Table {
    #[sea_orm(iden = "pnode_gossip_observations")]
    Observations,
    #[sea_orm(iden = "pnode_seed_sightings")]
    Sightings,
    #[sea_orm(iden = "ingestion_run_seed_stats")]
    SeedStats,
    #[sea_orm(iden = "pnode_stats_samples")]
    Samples,
    #[sea_orm(iden = "pod_credits_snapshots")]
    Credits,
}

#[derive(DeriveIden, Clone, Copy)]
enum Column {
    SeedBaseUrl,
    SourceUrl,
    PnodeId,
    IngestionRunId,
    FirstSeenAt,
    LastSeenAt,
}

#[cfg(test)]
mod tests {
    use super::strip;

    #[test]
    fn only_user_info_goes() {
        assert_eq!(
            strip("http://bob:pw@192.0.2.1:6000").as_deref(),
            Some("http://192.0.2.1:6000")
        );
        assert_eq!(
            strip("https://t@podcredits.example/api/x?a=@b").as_deref(),
            Some("https://podcredits.example/api/x?a=@b")
        );
        assert_eq!(strip("http://192.0.2.1:6000"), None);
        assert_eq!(strip("https://h.example/a@b"), None);
    }
}
