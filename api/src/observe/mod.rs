//! The process watching itself: its metrics registry, its memory, the allocator's counts and the
//! redaction of secrets from what it logs.

pub mod allocator;
pub mod memory;
pub(crate) mod metrics;
pub mod redact;
