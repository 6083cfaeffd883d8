//! `pod_credits_snapshots`: credits per pod over time, keyed by pubkey so that credits for a pod
//! not (yet) seen in gossip are kept too.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "pod_credits_snapshots")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The network whose credits source it came from.
    pub network: String,
    pub pod_pubkey: String,
    pub credits: i64,
    pub observed_at: DateTimeUtc,
    pub source_url: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
