//! How the process watches its own memory (part of `crate::app::config::Settings`).

use std::time::Duration;

use clap::Args;

/// How the process watches its own memory.
#[derive(Debug, Clone, Args)]
pub struct MemorySettings {
    /// Time between two memory log lines (target `memory`), e.g. "30s"; 0 turns the lines off
    /// (the alert is still checked every 30 s).
    #[arg(long = "memory-log-interval", env = "PNODE_MEMORY_LOG_INTERVAL", default_value = "30s", value_parser = humantime::parse_duration, global = true)]
    pub log_interval: Duration,

    /// Resident memory, in MB (MiB), above which an error is logged once per crossing; 0 turns the
    /// alert off.
    #[arg(
        long = "memory-alert-mb",
        env = "PNODE_MEMORY_ALERT_MB",
        default_value_t = 1024,
        global = true
    )]
    pub alert_mb: u64,
}
