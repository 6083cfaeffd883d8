//! `data_version`: a single row (`id` 1) whose `version` grows with every write that the view or
//! the ingestion status can show, written in the same transaction as that write.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "data_version")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    pub version: i64,
    /// When `version` last grew.
    pub changed_at: Option<DateTimeUtc>,
    /// When the newest collection cycle finished (`Last-Modified` of the view).
    pub last_cycle_finished_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
