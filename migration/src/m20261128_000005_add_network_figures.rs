//! What the network looked like at each collection cycle (`ingestion_runs.reachable`, `public`),
//! so that its history is read from one row per cycle, not recomputed from raw history; and the
//! indexes that find a seed's newest answer without reading its whole history.

use sea_orm_migration::{prelude::*, schema::*};

use crate::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one thing at a time.
        for column in [Runs::Reachable, Runs::Public] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Runs::Table)
                        .add_column(big_integer(column).default(0))
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(index(
                "idx_ingestion_run_seed_stats_seed_run",
                SeedStats::Table,
                [SeedStats::SeedBaseUrl, SeedStats::IngestionRunId],
            ))
            .await?;
        manager
            .create_index(index(
                "idx_pnode_gossip_observations_seed_observed",
                Observations::Table,
                [Observations::SeedBaseUrl, Observations::ObservedAt],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table) in [
            (
                "idx_pnode_gossip_observations_seed_observed",
                Observations::Table.into_iden(),
            ),
            (
                "idx_ingestion_run_seed_stats_seed_run",
                SeedStats::Table.into_iden(),
            ),
        ] {
            manager
                .drop_index(Index::drop().name(name).table(table).to_owned())
                .await?;
        }
        for column in [Runs::Public, Runs::Reachable] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Runs::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Runs {
    #[sea_orm(iden = "ingestion_runs")]
    Table,
    Reachable,
    Public,
}

#[derive(DeriveIden)]
enum SeedStats {
    #[sea_orm(iden = "ingestion_run_seed_stats")]
    Table,
    SeedBaseUrl,
    IngestionRunId,
}

#[derive(DeriveIden)]
enum Observations {
    #[sea_orm(iden = "pnode_gossip_observations")]
    Table,
    SeedBaseUrl,
    ObservedAt,
}
