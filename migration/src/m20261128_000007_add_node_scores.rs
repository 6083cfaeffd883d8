//! Each node's health score and its parts, on its `pnodes` row: computed by the collector when a
//! cycle closes (`api/src/score.rs`), so that ordering by score and the score leaderboard read one
//! indexed column. Empty until the first cycle after the upgrade closes.

use sea_orm_migration::{prelude::*, schema::*};

use crate::{add_columns, drop_columns, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

const INDEX: &str = "idx_pnodes_score";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_columns(
            manager,
            Pnodes::Table,
            [
                double_null(Pnodes::Score),
                double_null(Pnodes::ScoreReachable),
                double_null(Pnodes::ScoreStatsSuccess),
                double_null(Pnodes::ScoreVersion),
                double_null(Pnodes::ScoreUptime),
                double_null(Pnodes::ScoreSeeds),
                timestamp_with_time_zone_null(Pnodes::ScoredAt),
            ],
        )
        .await?;
        manager
            .create_index(index(INDEX, Pnodes::Table, [Pnodes::Score]))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(INDEX).table(Pnodes::Table).to_owned())
            .await?;
        drop_columns(
            manager,
            Pnodes::Table,
            [
                Pnodes::ScoredAt,
                Pnodes::ScoreSeeds,
                Pnodes::ScoreUptime,
                Pnodes::ScoreVersion,
                Pnodes::ScoreStatsSuccess,
                Pnodes::ScoreReachable,
                Pnodes::Score,
            ],
        )
        .await
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
