//! The HTTP edge: the server and its connections, middleware, the routes, and the pipeline every
//! read answer goes through (validators, the view cache, compression, CSV).

pub mod answer;
pub mod cache;
pub mod compression;
pub mod error;
pub mod export;
pub mod http;
pub mod metrics;
pub mod openapi;
pub mod outage;
pub mod request_id;
pub mod routes;
pub mod server;
pub mod settings;
pub mod state;
