//! `pnode_stats_samples`: one `get-stats` answer of a node, with rates derived from the previous sample.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "pnode_stats_samples")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub pnode_id: i64,
    pub seed_base_url: Option<String>,
    pub sampled_at: DateTimeUtc,
    pub cpu_percent: Option<f64>,
    pub ram_used_bytes: Option<i64>,
    pub ram_total_bytes: Option<i64>,
    pub uptime_seconds: Option<i64>,
    /// Cumulative since the node's process started; resets on restart.
    pub packets_received: Option<i64>,
    /// Cumulative since the node's process started; resets on restart.
    pub packets_sent: Option<i64>,
    pub packets_in_per_sec: Option<f64>,
    pub packets_out_per_sec: Option<f64>,
    /// Cumulative since the node's process started; resets on restart.
    pub total_bytes: Option<i64>,
    pub active_streams: Option<i64>,
    pub delta_bytes: Option<i64>,
    pub delta_seconds: Option<f64>,
    pub bytes_per_second: Option<f64>,
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
