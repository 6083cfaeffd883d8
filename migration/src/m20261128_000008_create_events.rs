//! `events`: what changed, in order, for live streams (`/api/events`), their replay and webhooks.
//! Written by the collector in the transaction of the change; every replica reads them.
//!
//! On `pnodes`: a copy of the newest observation's address (as 000006 copies its other figures),
//! and what was last announced of each node (reachability, version, address, gone or not), so
//! that a cycle's close finds the nodes that changed by reading their own rows. Both are filled
//! from what is stored now, so that an upgrade announces no change that did not happen; whether a
//! node is gone is left unknown (null), and the first close records it without announcing it.

use sea_orm_migration::{prelude::*, schema::*};

use crate::{add_columns, drop_columns, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

const INDEX: &str = "idx_events_at";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Events::Table)
                    .col(big_pk_auto(Events::Id))
                    .col(text(Events::Kind))
                    .col(timestamp_with_time_zone(Events::At))
                    .col(text(Events::Payload))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(INDEX, Events::Table, [Events::At]))
            .await?;
        add_columns(
            manager,
            Pnodes::Table,
            [
                text_null(Pnodes::GossipAddress),
                timestamp_with_time_zone_null(Pnodes::AnnouncedAt),
                boolean_null(Pnodes::AnnouncedReachable),
                text_null(Pnodes::AnnouncedVersion),
                text_null(Pnodes::AnnouncedAddress),
                boolean_null(Pnodes::AnnouncedGone),
            ],
        )
        .await?;
        let newest_address = Expr::SubQuery(
            None,
            Box::new(
                Query::select()
                    .column(Observations::Address)
                    .from(Observations::Table)
                    .and_where(Expr::col(Observations::PnodeId).equals((Pnodes::Table, Pnodes::Id)))
                    .order_by(Observations::ObservedAt, Order::Desc)
                    .order_by(Observations::Id, Order::Desc)
                    .limit(1)
                    .to_owned()
                    .into_sub_query_statement(),
            ),
        );
        manager
            .exec_stmt(
                Query::update()
                    .table(Pnodes::Table)
                    .value(Pnodes::GossipAddress, newest_address)
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::update()
                    .table(Pnodes::Table)
                    .value(Pnodes::AnnouncedAt, Expr::col(Pnodes::UpdatedAt))
                    .value(Pnodes::AnnouncedReachable, Expr::col(Pnodes::Reachable))
                    .value(Pnodes::AnnouncedVersion, Expr::col(Pnodes::GossipVersion))
                    .value(Pnodes::AnnouncedAddress, Expr::col(Pnodes::GossipAddress))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_columns(
            manager,
            Pnodes::Table,
            [
                Pnodes::AnnouncedGone,
                Pnodes::AnnouncedAddress,
                Pnodes::AnnouncedVersion,
                Pnodes::AnnouncedReachable,
                Pnodes::AnnouncedAt,
                Pnodes::GossipAddress,
            ],
        )
        .await?;
        manager
            .drop_table(Table::drop().table(Events::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Events {
    Table,
    Id,
    Kind,
    At,
    Payload,
}

#[derive(DeriveIden, Clone, Copy)]
enum Pnodes {
    Table,
    Id,
    UpdatedAt,
    Reachable,
    GossipVersion,
    GossipAddress,
    AnnouncedAt,
    AnnouncedReachable,
    AnnouncedVersion,
    AnnouncedAddress,
    AnnouncedGone,
}

#[derive(DeriveIden, Clone, Copy)]
enum Observations {
    #[sea_orm(iden = "pnode_gossip_observations")]
    Table,
    Id,
    PnodeId,
    ObservedAt,
    Address,
}
