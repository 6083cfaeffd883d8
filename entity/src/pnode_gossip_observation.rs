//! `pnode_gossip_observations`: what one seed's gossip said about one node in one collection cycle.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "pnode_gossip_observations")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub pnode_id: i64,
    pub seed_base_url: String,
    /// `ip:port` as gossip reported it.
    pub address: String,
    pub version: Option<String>,
    /// Unix seconds, as the seed reported it.
    pub last_seen_timestamp: Option<i64>,
    /// When this project recorded the observation (the cycle's time).
    pub observed_at: DateTimeUtc,
    pub is_public: Option<bool>,
    pub rpc_port: Option<i32>,
    pub storage_committed: Option<i64>,
    pub storage_used: Option<i64>,
    /// Already a percentage (0-100).
    pub storage_usage_percent: Option<f64>,
    pub uptime_seconds: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::pnode::Entity",
        from = "Column::PnodeId",
        to = "super::pnode::Column::Id",
        on_delete = "Cascade"
    )]
    Pnode,
}

impl Related<super::pnode::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Pnode.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
