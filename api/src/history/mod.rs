//! History and the network at a glance: a node's stats, gossip changes, seeds and credits over a
//! window; the network now; and the network cycle by cycle.

pub mod model;
pub mod network;
mod node;
pub mod seeds;
mod sql;
pub mod status;
pub mod window;

pub use self::{
    network::{network_history, network_summary},
    node::node_history,
};
