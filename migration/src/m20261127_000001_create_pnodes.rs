//! Nodes, their gossip observations, their stats samples and the seed mapping.

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
                    .table(Pnodes::Table)
                    .col(big_pk_auto(Pnodes::Id))
                    .col(text_uniq(Pnodes::Pubkey))
                    .col(timestamp_with_time_zone(Pnodes::CreatedAt))
                    .col(timestamp_with_time_zone(Pnodes::UpdatedAt))
                    .col(boolean(Pnodes::Reachable).default(false))
                    .col(big_integer(Pnodes::FailureCount).default(0))
                    .col(timestamp_with_time_zone_null(Pnodes::LastStatsAttemptAt))
                    .col(timestamp_with_time_zone_null(Pnodes::LastStatsSuccessAt))
                    .col(timestamp_with_time_zone_null(Pnodes::NextStatsAllowedAt))
                    .col(big_integer_null(Pnodes::LatestCredits))
                    .col(timestamp_with_time_zone_null(Pnodes::CreditsUpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Observations::Table)
                    .col(big_pk_auto(Observations::Id))
                    .col(big_integer(Observations::PnodeId))
                    .col(text(Observations::SeedBaseUrl))
                    .col(text(Observations::Address))
                    .col(text_null(Observations::Version))
                    .col(big_integer_null(Observations::LastSeenTimestamp))
                    .col(timestamp_with_time_zone(Observations::ObservedAt))
                    .col(boolean_null(Observations::IsPublic))
                    .col(integer_null(Observations::RpcPort))
                    .col(big_integer_null(Observations::StorageCommitted))
                    .col(big_integer_null(Observations::StorageUsed))
                    .col(double_null(Observations::StorageUsagePercent))
                    .col(big_integer_null(Observations::UptimeSeconds))
                    .foreign_key(&mut cascade_to(
                        (Observations::Table, Observations::PnodeId),
                        (Pnodes::Table, Pnodes::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        for statement in [
            index(
                "idx_pnode_gossip_observations_pnode_observed",
                Observations::Table,
                [Observations::PnodeId, Observations::ObservedAt],
            ),
            index(
                "idx_pnode_gossip_observations_seed",
                Observations::Table,
                [Observations::SeedBaseUrl],
            ),
            index(
                "idx_pnode_gossip_observations_observed",
                Observations::Table,
                [Observations::ObservedAt],
            ),
        ] {
            manager.create_index(statement).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(Samples::Table)
                    .col(big_pk_auto(Samples::Id))
                    .col(big_integer(Samples::PnodeId))
                    .col(text_null(Samples::SeedBaseUrl))
                    .col(timestamp_with_time_zone(Samples::SampledAt))
                    .col(double_null(Samples::CpuPercent))
                    .col(big_integer_null(Samples::RamUsedBytes))
                    .col(big_integer_null(Samples::RamTotalBytes))
                    .col(big_integer_null(Samples::UptimeSeconds))
                    .col(big_integer_null(Samples::PacketsReceived))
                    .col(big_integer_null(Samples::PacketsSent))
                    .col(double_null(Samples::PacketsInPerSec))
                    .col(double_null(Samples::PacketsOutPerSec))
                    .col(big_integer_null(Samples::TotalBytes))
                    .col(big_integer_null(Samples::ActiveStreams))
                    .col(big_integer_null(Samples::DeltaBytes))
                    .col(double_null(Samples::DeltaSeconds))
                    .col(double_null(Samples::BytesPerSecond))
                    .foreign_key(&mut cascade_to(
                        (Samples::Table, Samples::PnodeId),
                        (Pnodes::Table, Pnodes::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        for statement in [
            index(
                "idx_pnode_stats_samples_pnode_sampled",
                Samples::Table,
                [Samples::PnodeId, Samples::SampledAt],
            ),
            index(
                "idx_pnode_stats_samples_sampled",
                Samples::Table,
                [Samples::SampledAt],
            ),
        ] {
            manager.create_index(statement).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(Sightings::Table)
                    .col(big_integer(Sightings::PnodeId))
                    .col(text(Sightings::SeedBaseUrl))
                    .col(timestamp_with_time_zone(Sightings::FirstSeenAt))
                    .col(timestamp_with_time_zone(Sightings::LastSeenAt))
                    .primary_key(
                        Index::create()
                            .col(Sightings::PnodeId)
                            .col(Sightings::SeedBaseUrl),
                    )
                    .foreign_key(&mut cascade_to(
                        (Sightings::Table, Sightings::PnodeId),
                        (Pnodes::Table, Pnodes::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        // The primary key serves lookups by node; these serve the `seed=` filter and retention.
        for statement in [
            index(
                "idx_pnode_seed_sightings_seed",
                Sightings::Table,
                [Sightings::SeedBaseUrl, Sightings::PnodeId],
            ),
            index(
                "idx_pnode_seed_sightings_last_seen",
                Sightings::Table,
                [Sightings::LastSeenAt],
            ),
        ] {
            manager.create_index(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Sightings::Table.into_iden(),
            Samples::Table.into_iden(),
            Observations::Table.into_iden(),
            Pnodes::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Pnodes {
    Table,
    Id,
    Pubkey,
    CreatedAt,
    UpdatedAt,
    Reachable,
    FailureCount,
    LastStatsAttemptAt,
    LastStatsSuccessAt,
    NextStatsAllowedAt,
    LatestCredits,
    CreditsUpdatedAt,
}

#[derive(DeriveIden)]
enum Observations {
    #[sea_orm(iden = "pnode_gossip_observations")]
    Table,
    Id,
    PnodeId,
    SeedBaseUrl,
    Address,
    Version,
    LastSeenTimestamp,
    ObservedAt,
    IsPublic,
    RpcPort,
    StorageCommitted,
    StorageUsed,
    StorageUsagePercent,
    UptimeSeconds,
}

#[derive(DeriveIden)]
enum Samples {
    #[sea_orm(iden = "pnode_stats_samples")]
    Table,
    Id,
    PnodeId,
    SeedBaseUrl,
    SampledAt,
    CpuPercent,
    RamUsedBytes,
    RamTotalBytes,
    UptimeSeconds,
    PacketsReceived,
    PacketsSent,
    PacketsInPerSec,
    PacketsOutPerSec,
    TotalBytes,
    ActiveStreams,
    DeltaBytes,
    DeltaSeconds,
    BytesPerSecond,
}

#[derive(DeriveIden)]
enum Sightings {
    #[sea_orm(iden = "pnode_seed_sightings")]
    Table,
    PnodeId,
    SeedBaseUrl,
    FirstSeenAt,
    LastSeenAt,
}
