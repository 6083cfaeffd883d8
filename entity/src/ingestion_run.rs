//! `ingestion_runs`: one row per collection cycle, with totals over all seeds.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ingestion_runs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The network whose seeds the run asked.
    pub network: String,
    pub started_at: DateTimeUtc,
    /// Null while the cycle is running.
    pub finished_at: Option<DateTimeUtc>,
    pub attempted: i64,
    pub success: i64,
    pub backoff: i64,
    pub failed: i64,
    /// Distinct nodes seen by any seed in this cycle.
    pub observed: i64,
    /// Nodes whose last get-stats call had succeeded when the cycle finished.
    pub reachable: i64,
    /// Nodes seen in this cycle whose gossip said public.
    pub public: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::ingestion_run_seed_stats::Entity")]
    SeedStats,
}

impl Related<super::ingestion_run_seed_stats::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::SeedStats.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
