//! What changes, told to whoever listens: live events (stored, then streamed by every replica)
//! and webhooks (sent by the collecting replica).

pub mod events;
pub mod settings;
pub mod webhooks;
