//! Each node's newest gossip figures and newest stats uptime, on its `pnodes` row: written by the
//! collector with the observation (and the sample) they come from, so that the network's summary
//! reads one row per node instead of probing every node's history (a probe per node costs more as
//! history grows, on PostgreSQL: BENCHMARKS.md). Filled from the history when added.

use sea_orm_migration::{prelude::*, schema::*};

use crate::{add_columns, drop_columns};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The new columns and, for each, the history column it copies.
const GOSSIP: [(Pnodes, Observations); 5] = [
    (Pnodes::GossipObservedAt, Observations::ObservedAt),
    (Pnodes::GossipVersion, Observations::Version),
    (Pnodes::GossipIsPublic, Observations::IsPublic),
    (
        Pnodes::GossipStorageCommitted,
        Observations::StorageCommitted,
    ),
    (Pnodes::GossipStorageUsed, Observations::StorageUsed),
];
const STATS: [(Pnodes, Samples); 2] = [
    (Pnodes::StatsSampledAt, Samples::SampledAt),
    (Pnodes::StatsUptimeSeconds, Samples::UptimeSeconds),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_columns(
            manager,
            Pnodes::Table,
            [
                timestamp_with_time_zone_null(Pnodes::GossipObservedAt),
                text_null(Pnodes::GossipVersion),
                boolean_null(Pnodes::GossipIsPublic),
                big_integer_null(Pnodes::GossipStorageCommitted),
                big_integer_null(Pnodes::GossipStorageUsed),
                timestamp_with_time_zone_null(Pnodes::StatsSampledAt),
                big_integer_null(Pnodes::StatsUptimeSeconds),
            ],
        )
        .await?;
        let mut fill = Query::update();
        fill.table(Pnodes::Table);
        for (column, from) in GOSSIP {
            fill.value(
                column,
                newest(
                    Observations::Table,
                    Observations::PnodeId,
                    Observations::ObservedAt,
                    Observations::Id,
                    from,
                ),
            );
        }
        for (column, from) in STATS {
            fill.value(
                column,
                newest(
                    Samples::Table,
                    Samples::PnodeId,
                    Samples::SampledAt,
                    Samples::Id,
                    from,
                ),
            );
        }
        manager.exec_stmt(fill).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_columns(
            manager,
            Pnodes::Table,
            [
                Pnodes::StatsUptimeSeconds,
                Pnodes::StatsSampledAt,
                Pnodes::GossipStorageUsed,
                Pnodes::GossipStorageCommitted,
                Pnodes::GossipIsPublic,
                Pnodes::GossipVersion,
                Pnodes::GossipObservedAt,
            ],
        )
        .await
    }
}

/// `(SELECT column FROM table WHERE key = pnodes.id ORDER BY time DESC, id DESC LIMIT 1)`.
fn newest<T, C>(table: T, key: C, time: C, id: C, column: C) -> Expr
where
    T: IntoIden,
    C: IntoIden,
{
    Expr::SubQuery(
        None,
        Box::new(
            Query::select()
                .column(column)
                .from(table)
                .and_where(Expr::col(key).equals((Pnodes::Table, Pnodes::Id)))
                .order_by(time, Order::Desc)
                .order_by(id, Order::Desc)
                .limit(1)
                .to_owned()
                .into_sub_query_statement(),
        ),
    )
}

#[derive(DeriveIden, Clone, Copy)]
enum Pnodes {
    Table,
    Id,
    GossipObservedAt,
    GossipVersion,
    GossipIsPublic,
    GossipStorageCommitted,
    GossipStorageUsed,
    StatsSampledAt,
    StatsUptimeSeconds,
}

#[derive(DeriveIden, Clone, Copy)]
enum Observations {
    #[sea_orm(iden = "pnode_gossip_observations")]
    Table,
    Id,
    PnodeId,
    ObservedAt,
    Version,
    IsPublic,
    StorageCommitted,
    StorageUsed,
}

#[derive(DeriveIden, Clone, Copy)]
enum Samples {
    #[sea_orm(iden = "pnode_stats_samples")]
    Table,
    Id,
    PnodeId,
    SampledAt,
    UptimeSeconds,
}
