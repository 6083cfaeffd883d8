//! The application: its settings, how it starts (every layer wired once) and how it stops.

pub mod collecting;
pub mod config;
pub mod shutdown;
pub mod startup;
pub mod telemetry;
