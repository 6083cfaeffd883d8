//! Credits snapshots per pod.

use sea_orm_migration::{prelude::*, schema::*};

use crate::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Snapshots::Table)
                    .col(big_pk_auto(Snapshots::Id))
                    .col(text(Snapshots::PodPubkey))
                    .col(big_integer(Snapshots::Credits))
                    .col(timestamp_with_time_zone(Snapshots::ObservedAt))
                    .col(text(Snapshots::SourceUrl))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_pod_credits_snapshots_pubkey_observed",
                Snapshots::Table,
                [Snapshots::PodPubkey, Snapshots::ObservedAt],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Snapshots::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Snapshots {
    #[sea_orm(iden = "pod_credits_snapshots")]
    Table,
    Id,
    PodPubkey,
    Credits,
    ObservedAt,
    SourceUrl,
}
