//! The data version: one number in the database that grows with every write the view or the
//! ingestion status can show (a seed's answer, the cycle's stats, a run opened or closed, credits,
//! a retention batch, a generated network), bumped in the same transaction as the write. Every
//! replica sharing the database learns with one small read whether what it has cached is still
//! current; an answer cached for a version is never served once the database holds a newer one.

use chrono::{DateTime, Utc};
use entity::data_version;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
    sea_query::{Expr, ExprTrait},
};

/// The single row's id.
const ROW: i32 = 1;

/// The version now, and when the newest collection cycle finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataVersion {
    pub version: i64,
    pub last_cycle_finished_at: Option<DateTime<Utc>>,
}

/// Reads the version (one statement, by primary key).
pub async fn current(db: &impl ConnectionTrait) -> Result<DataVersion, DbErr> {
    let row = data_version::Entity::find_by_id(ROW).one(db).await?;
    let row = row.ok_or_else(|| DbErr::RecordNotFound("the data_version row".to_owned()))?;
    Ok(DataVersion {
        version: row.version,
        last_cycle_finished_at: row.last_cycle_finished_at,
    })
}

/// Records that something shown has been written at `now`: call it inside the write's
/// transaction, so that the new version and the write commit (or roll back) together.
pub async fn bump(db: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<(), DbErr> {
    update(db, now, None).await
}

/// As [`bump`], for the write that closes a collection cycle: also records when it finished.
pub async fn bump_cycle_finished(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    update(db, now, Some(now)).await
}

async fn update(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    cycle_finished: Option<DateTime<Utc>>,
) -> Result<(), DbErr> {
    let mut update = data_version::Entity::update_many()
        .col_expr(
            data_version::Column::Version,
            Expr::col(data_version::Column::Version).add(1),
        )
        .col_expr(data_version::Column::ChangedAt, Expr::value(now));
    if let Some(finished) = cycle_finished {
        update = update.col_expr(
            data_version::Column::LastCycleFinishedAt,
            Expr::value(finished),
        );
    }
    let updated = update
        .filter(data_version::Column::Id.eq(ROW))
        .exec(db)
        .await?;
    if updated.rows_affected != 1 {
        return Err(DbErr::RecordNotUpdated);
    }
    Ok(())
}
