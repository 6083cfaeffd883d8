//! The HTTP edge: the server and its connections, middleware, the routes, and the pipeline every
//! read answer goes through (validators, the view cache, compression, CSV).

pub(crate) mod answer;
pub(crate) mod cache;
pub(crate) mod compression;
pub(crate) mod error;
pub(crate) mod export;
pub(crate) mod http;
pub(crate) mod metrics;
pub mod openapi;
pub(crate) mod outage;
pub mod ratelimit;
pub(crate) mod request_id;
pub mod routes;
pub(crate) mod server;
pub mod settings;
pub(crate) mod state;
