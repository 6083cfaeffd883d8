//! History and the network at a glance: a node's stats, gossip changes, seeds and credits over a
//! window; the network now; and the network cycle by cycle.

pub(crate) mod model;
pub(crate) mod network;
pub(crate) mod networks;
mod node;
pub(crate) mod seeds;
mod sql;
pub mod status;
pub(crate) mod window;

pub use self::{
    network::{network_history, network_summary},
    node::node_history,
};
