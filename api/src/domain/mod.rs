//! Plain types every layer shares: validated values and their formats, no I/O.

pub mod params;
pub mod pubkey;
pub mod score;
pub mod secret;
pub mod seeds;
pub mod timestamp;
pub mod version;
