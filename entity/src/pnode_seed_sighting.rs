//! `pnode_seed_sightings`: which seeds have reported which node, kept current at ingest so that
//! answering "who has seen it?" never reads observation history.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "pnode_seed_sightings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub pnode_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub seed_base_url: String,
    pub first_seen_at: DateTimeUtc,
    pub last_seen_at: DateTimeUtc,
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
