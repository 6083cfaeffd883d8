//! Calls out to the network: the one way outbound HTTP clients are built (TLS included), which
//! addresses the collector may call for stats, and the pRPC client.

pub mod http;
pub mod prpc;
pub mod settings;
pub mod targets;
