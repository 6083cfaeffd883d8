//! `ingestion_run_seed_stats`: one collection cycle's figures for one seed.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ingestion_run_seed_stats")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub ingestion_run_id: i64,
    pub seed_base_url: String,
    pub attempted: i64,
    pub backoff: i64,
    pub success: i64,
    pub failed: i64,
    /// Distinct nodes this seed reported in the cycle.
    pub observed: i64,
    /// Why the seed failed, if it did.
    pub error: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::ingestion_run::Entity",
        from = "Column::IngestionRunId",
        to = "super::ingestion_run::Column::Id",
        on_delete = "Cascade"
    )]
    IngestionRun,
}

impl Related<super::ingestion_run::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::IngestionRun.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
