//! Calls out to the network: the one way outbound HTTP clients are built (TLS included), and the
//! pRPC client.

pub mod http;
pub mod prpc;
pub mod settings;
