//! Each node's health score and its parts, on its `pnodes` row: computed by the collector when a
//! cycle closes (`api/src/score.rs`), so that ordering by score and the score leaderboard read one
//! indexed column. Empty until the first cycle after the upgrade closes.

use sea_orm_migration::{prelude::*, schema::*};

use crate::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

const INDEX: &str = "idx_pnodes_score";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one thing at a time.
        for column in [
            double_null(Pnodes::Score),
            double_null(Pnodes::ScoreReachable),
            double_null(Pnodes::ScoreStatsSuccess),
            double_null(Pnodes::ScoreVersion),
            double_null(Pnodes::ScoreUptime),
            double_null(Pnodes::ScoreSeeds),
            timestamp_with_time_zone_null(Pnodes::ScoredAt),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Pnodes::Table)
                        .add_column(column.to_owned())
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(index(INDEX, Pnodes::Table, [Pnodes::Score]))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(INDEX).table(Pnodes::Table).to_owned())
            .await?;
        for column in [
            Pnodes::ScoredAt,
            Pnodes::ScoreSeeds,
            Pnodes::ScoreUptime,
            Pnodes::ScoreVersion,
            Pnodes::ScoreStatsSuccess,
            Pnodes::ScoreReachable,
            Pnodes::Score,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Pnodes::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Pnodes {
    Table,
    Score,
    ScoreReachable,
    ScoreStatsSuccess,
    ScoreVersion,
    ScoreUptime,
    ScoreSeeds,
    ScoredAt,
}
