//! Plain types every layer shares: validated values and their formats, no I/O.

pub(crate) mod cidr;
pub(crate) mod endpoint;
pub mod network;
pub(crate) mod params;
pub(crate) mod pubkey;
pub(crate) mod score;
pub(crate) mod secret;
pub(crate) mod seeds;
pub(crate) mod text;
pub(crate) mod timestamp;
pub mod version;
