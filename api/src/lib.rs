//! pnode-api: collects the state of the Xandeum pNode network and serves it as a JSON API.
//!
//! The library is in layers, each a folder; a layer uses only the layers below it (README,
//! "Architecture"; `scripts/module-graph.py` checks it in CI):
//!
//! - [`app`]: settings, start-up and shutdown: wires every other layer;
//! - [`web`]: the HTTP server, its middleware, routes and the answer pipeline;
//! - [`view`]: what every node looks like now (the global view, its orders, the leaderboard);
//! - [`history`]: how it got here (a node's and the network's history, seeds, runs);
//! - [`collector`]: polls the seeds and nodes, scores nodes, refreshes credits, prunes;
//! - [`push`]: what changes, told to whoever listens (events, webhooks);
//! - [`net`]: calls out to the network (the pRPC client);
//! - [`db`]: the database: connections, the data version, write health;
//! - [`observe`]: the process watching itself (metrics, memory, logs);
//! - [`domain`]: plain types every layer shares (pubkeys, seeds, versions, timestamps, parameters).
//!
//! The binary (package `pnode-api`) parses the command line and calls into [`app`].

#![warn(unreachable_pub)]

pub mod app;
pub mod collector;
pub mod db;
pub mod domain;
pub mod history;
pub mod net;
pub mod observe;
pub mod push;
pub mod view;
pub mod web;
