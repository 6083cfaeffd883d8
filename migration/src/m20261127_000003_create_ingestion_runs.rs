//! Collection cycles and their per-seed figures.

use sea_orm_migration::{prelude::*, schema::*};

use crate::{cascade_to, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Runs::Table)
                    .col(big_pk_auto(Runs::Id))
                    .col(timestamp_with_time_zone(Runs::StartedAt))
                    .col(timestamp_with_time_zone_null(Runs::FinishedAt))
                    .col(big_integer(Runs::Attempted).default(0))
                    .col(big_integer(Runs::Success).default(0))
                    .col(big_integer(Runs::Backoff).default(0))
                    .col(big_integer(Runs::Failed).default(0))
                    .col(big_integer(Runs::Observed).default(0))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_ingestion_runs_started",
                Runs::Table,
                [Runs::StartedAt],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SeedStats::Table)
                    .col(big_pk_auto(SeedStats::Id))
                    .col(big_integer(SeedStats::IngestionRunId))
                    .col(text(SeedStats::SeedBaseUrl))
                    .col(big_integer(SeedStats::Attempted).default(0))
                    .col(big_integer(SeedStats::Backoff).default(0))
                    .col(big_integer(SeedStats::Success).default(0))
                    .col(big_integer(SeedStats::Failed).default(0))
                    .col(big_integer(SeedStats::Observed).default(0))
                    .col(text_null(SeedStats::Error))
                    .foreign_key(&mut cascade_to(
                        (SeedStats::Table, SeedStats::IngestionRunId),
                        (Runs::Table, Runs::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index(
                    "idx_ingestion_run_seed_stats_run_seed",
                    SeedStats::Table,
                    [SeedStats::IngestionRunId, SeedStats::SeedBaseUrl],
                )
                .unique()
                .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [SeedStats::Table.into_iden(), Runs::Table.into_iden()] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Runs {
    #[sea_orm(iden = "ingestion_runs")]
    Table,
    Id,
    StartedAt,
    FinishedAt,
    Attempted,
    Success,
    Backoff,
    Failed,
    Observed,
}

#[derive(DeriveIden)]
enum SeedStats {
    #[sea_orm(iden = "ingestion_run_seed_stats")]
    Table,
    Id,
    IngestionRunId,
    SeedBaseUrl,
    Attempted,
    Backoff,
    Success,
    Failed,
    Observed,
    Error,
}
