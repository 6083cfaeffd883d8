//! `data_version`: one row whose `version` grows with every write the view or the ingestion
//! status can show, in the same transaction as the write, so that every replica can tell whether
//! what it holds is still current with one small read.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DataVersion::Table)
                    .col(integer(DataVersion::Id).primary_key())
                    .col(big_integer(DataVersion::Version).default(0))
                    .col(timestamp_with_time_zone_null(DataVersion::ChangedAt))
                    .col(timestamp_with_time_zone_null(
                        DataVersion::LastCycleFinishedAt,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(DataVersion::Table)
                    .columns([DataVersion::Id, DataVersion::Version])
                    .values_panic([1.into(), 0.into()])
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(DataVersion::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum DataVersion {
    Table,
    Id,
    Version,
    ChangedAt,
    LastCycleFinishedAt,
}
