//! `events`: what changed, in order (a cycle closed, a node appeared, disappeared or changed, credits
//! refreshed), written in the transaction of the change. The API streams, replays and delivers them.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "events")]
pub struct Model {
    /// Grows with every event: the `id` of server-sent events and what `Last-Event-ID` names.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The network whose cycle, node or credits it is about.
    pub network: String,
    /// `cycle`, `node.appeared`, ... (the API's `events::Kind`).
    pub kind: String,
    pub at: DateTimeUtc,
    /// The event's fields as JSON.
    pub payload: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
