//! `pnodes`: one row per node identity (pubkey), with its `get-stats` polling state and credits.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "pnodes")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The network it gossips on: a node is (network, pubkey), unique together.
    pub network: String,
    pub pubkey: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// Whether the last `get-stats` call succeeded.
    pub reachable: bool,
    /// Consecutive failed `get-stats` calls.
    pub failure_count: i64,
    pub last_stats_attempt_at: Option<DateTimeUtc>,
    pub last_stats_success_at: Option<DateTimeUtc>,
    /// Backoff: no `get-stats` call before this time.
    pub next_stats_allowed_at: Option<DateTimeUtc>,
    pub latest_credits: Option<i64>,
    pub credits_updated_at: Option<DateTimeUtc>,
    /// When the node's newest gossip observation was made, and what it said (copies written
    /// with that observation, cleared when retention deletes it).
    pub gossip_observed_at: Option<DateTimeUtc>,
    pub gossip_version: Option<String>,
    pub gossip_is_public: Option<bool>,
    pub gossip_storage_committed: Option<i64>,
    pub gossip_storage_used: Option<i64>,
    pub gossip_address: Option<String>,
    /// The `last_seen_timestamp` of the report the `gossip_*` copies come from: within a cycle,
    /// only a fresher report replaces them (ties keep the seed listed first).
    pub gossip_last_seen: Option<i64>,
    /// When the node's newest stats sample was taken, and the uptime it reported (copies
    /// written with that sample, cleared when retention deletes it).
    pub stats_sampled_at: Option<DateTimeUtc>,
    pub stats_uptime_seconds: Option<i64>,
    /// The health score, 0-100, and its parts, each 0-1, as of `scored_at` (the close of a
    /// collection cycle; see the API's `score` module for the parts and their weights).
    pub score: Option<f64>,
    pub score_reachable: Option<f64>,
    pub score_stats_success: Option<f64>,
    pub score_version: Option<f64>,
    pub score_uptime: Option<f64>,
    pub score_seeds: Option<f64>,
    pub scored_at: Option<DateTimeUtc>,
    /// What was last announced of the node (events): when, its reachability, version and
    /// address, and whether it had disappeared. Null until its first announcement.
    pub announced_at: Option<DateTimeUtc>,
    pub announced_reachable: Option<bool>,
    pub announced_version: Option<String>,
    pub announced_address: Option<String>,
    pub announced_gone: Option<bool>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::pnode_gossip_observation::Entity")]
    GossipObservation,
    #[sea_orm(has_many = "super::pnode_stats_sample::Entity")]
    StatsSample,
    #[sea_orm(has_many = "super::pnode_seed_sighting::Entity")]
    SeedSighting,
}

impl Related<super::pnode_gossip_observation::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::GossipObservation.def()
    }
}

impl Related<super::pnode_stats_sample::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::StatsSample.def()
    }
}

impl Related<super::pnode_seed_sighting::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::SeedSighting.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
