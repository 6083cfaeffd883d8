//! SeaORM entities for the pnode-api schema.
//!
//! Table and column names are a contract: operators and other tools query them directly.
//! Every counter and byte count is 64-bit, every timestamp is UTC.

pub mod data_version;
pub mod event;
pub mod ingestion_run;
pub mod ingestion_run_seed_stats;
pub mod pnode;
pub mod pnode_gossip_observation;
pub mod pnode_seed_sighting;
pub mod pnode_stats_sample;
pub mod pod_credits_snapshot;

pub use sea_orm;
