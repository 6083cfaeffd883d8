//! The process watching its own memory: a probe (sysinfo, refreshing only this process, plus the
//! allocator's own figures), an alert that fires once per crossing, and a monitor task that logs
//! both under the `memory` target.

mod alert;
mod monitor;
pub(crate) mod settings;

use std::sync::{Mutex, PoisonError};

use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};

pub use self::{
    alert::{Alert, Crossing},
    monitor::spawn_monitor,
};
use crate::observe::{allocator, memory::settings::MemorySettings};

/// Bytes in the MB of `PNODE_MEMORY_ALERT_MB` (a MiB, as `top` and `ps` count).
pub const MB: u64 = 1024 * 1024;

/// This process's memory at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemorySample {
    pub pid: u32,
    /// Resident set size: physical memory in use, as the OS counts it.
    pub rss_bytes: u64,
    pub virtual_bytes: u64,
    /// Bytes the program holds through the global allocator, when it reports them (jemalloc).
    pub allocated_bytes: Option<u64>,
    /// Physical memory the allocator holds, when it reports it (jemalloc).
    pub allocator_resident_bytes: Option<u64>,
    /// Seconds since the process started.
    pub uptime_seconds: u64,
}

/// Reads this process's memory on demand. Cheap (one read of `/proc/self`), shared by the monitor,
/// the memory endpoint and `/metrics`.
#[derive(Debug)]
pub struct MemoryProbe {
    system: Mutex<System>,
    pid: Pid,
    alert_bytes: u64,
}

impl MemoryProbe {
    /// A probe for this process; `alert_bytes` (0: no alert) is reported with its samples.
    pub fn new(alert_bytes: u64) -> anyhow::Result<Self> {
        let pid = sysinfo::get_current_pid()
            .map_err(|err| anyhow::anyhow!("cannot tell this process's id: {err}"))?;
        let system =
            System::new().map_err(|err| anyhow::anyhow!("cannot read process figures: {err}"))?;
        Ok(Self {
            system: Mutex::new(system),
            pid,
            alert_bytes,
        })
    }

    /// A probe whose alert threshold is `PNODE_MEMORY_ALERT_MB`.
    pub fn from_settings(settings: &MemorySettings) -> anyhow::Result<Self> {
        Self::new(settings.alert_mb.saturating_mul(MB))
    }

    /// The RSS above which the alert fires (0: never).
    pub fn alert_bytes(&self) -> u64 {
        self.alert_bytes
    }

    /// Whether `sample` is above the alert threshold.
    pub fn over_alert(&self, sample: &MemorySample) -> bool {
        alert::is_over(sample.rss_bytes, self.alert_bytes)
    }

    /// The figures now.
    pub fn sample(&self) -> MemorySample {
        let mut system = self.system.lock().unwrap_or_else(PoisonError::into_inner);
        system.refresh_processes_specifics(
            ProcessesToUpdate::Some(&[self.pid]),
            false,
            ProcessRefreshKind::nothing().with_memory(),
        );
        let process = system.process(self.pid);
        let allocator = allocator::stats();
        MemorySample {
            pid: self.pid.as_u32(),
            rss_bytes: process.map_or(0, |p| p.memory()),
            virtual_bytes: process.map_or(0, |p| p.virtual_memory()),
            allocated_bytes: allocator.map(|stats| stats.allocated),
            allocator_resident_bytes: allocator.map(|stats| stats.resident),
            uptime_seconds: process.map_or(0, |p| p.run_time()),
        }
    }
}

/// A field of `/proc/<pid>/status` in bytes (`VmRSS`, `VmSize`): the kernel's own figure, read
/// without sysinfo, so it can check the probe. Linux only.
pub fn proc_status_bytes(pid: u32, field: &str) -> std::io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("no {field} in /proc/{pid}/status"),
            )
        })?;
    Ok(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_reads_this_process_as_the_os_counts_it() {
        let probe = MemoryProbe::new(0).expect("probe");
        let sample = probe.sample();
        let os = proc_status_bytes(std::process::id(), "VmRSS").expect("procfs");

        assert_eq!(sample.pid, std::process::id());
        let gap = sample.rss_bytes.abs_diff(os) as f64 / os as f64;
        assert!(gap < 0.05, "probe {} vs VmRSS {os}", sample.rss_bytes);
        assert!(sample.virtual_bytes >= sample.rss_bytes);
        assert_eq!(sample.allocated_bytes.is_some(), cfg!(feature = "jemalloc"));
    }

    #[test]
    fn the_threshold_decides_over_alert_and_zero_means_never() {
        let sample = MemoryProbe::new(0).expect("probe").sample();
        assert!(!MemoryProbe::new(0).expect("probe").over_alert(&sample));
        assert!(MemoryProbe::new(1).expect("probe").over_alert(&sample));
        assert!(
            !MemoryProbe::new(u64::MAX)
                .expect("probe")
                .over_alert(&sample)
        );
    }
}
