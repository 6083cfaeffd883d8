//! Calls out to the network: the pRPC client.

pub mod prpc;
