//! Integration tests: the real app, on a fresh database, over HTTP. Every database test runs on
//! SQLite and on PostgreSQL (see `test_support::Backend`).

#![allow(clippy::expect_used, clippy::unwrap_used)] // A test that cannot proceed should panic.

#[macro_use]
extern crate test_support;

mod helpers;

mod binary;
mod clients;
mod collecting;
mod collector_cycle;
mod collector_faults;
mod collector_status;
mod credits;
mod dashboards;
mod database_outage;
mod demo;
mod errors;
mod events;
mod export;
mod fixtures;
mod hardening;
mod health;
mod history;
mod logging;
mod memory;
mod metrics;
mod migrations;
mod networks;
mod openapi;
mod pnodes_contract;
mod pnodes_cost;
mod pnodes_select;
mod ready;
mod retention;
mod scores;
mod seeds;
mod signals;
mod soak;
mod storage_faults;
mod tls;
mod trust;
mod view_cache;
mod webhooks;
