//! Operator tools, apart from the service itself: a simulated network (`sim`) and the `demo`
//! that runs the service against it, a deterministic network `generate`d into a database, and the
//! `bench` and `soak` drivers (sharing `load`) that measure a running server.

pub mod bench;
pub mod demo;
pub mod generate;
pub mod load;
pub mod rng;
pub mod sim;
pub mod soak;
