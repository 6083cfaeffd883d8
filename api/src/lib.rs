//! pnode-api: collects the state of the Xandeum pNode network and serves it as a JSON API.
//!
//! The binary (`src/main.rs`) only parses the command line and calls [`cli::run`].

pub mod allocator;
pub mod cache;
pub mod cli;
pub mod collector;
pub mod compression;
pub mod config;
pub mod credits;
pub mod db;
pub mod error;
pub mod events;
pub mod export;
pub mod history;
pub mod http;
pub mod leaderboard;
pub mod memory;
pub mod metrics;
pub mod openapi;
pub mod outage;
pub mod overload;
pub mod params;
pub mod prpc;
pub mod pubkey;
pub mod redact;
pub mod request_id;
pub mod routes;
pub mod score;
pub mod seeds;
pub mod server;
pub mod shutdown;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod timestamp;
pub mod tools;
pub mod view;
pub mod webhooks;
