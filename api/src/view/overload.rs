//! The bound on full views computed at once. A full view (every node, one JSON document) is the
//! one answer whose cost grows with the network; a flood of them must not take every database
//! connection and core from the pages, the 304s and the health checks. A computation waits for
//! one of a few permits for a short while, then gives up: the client gets 503 with `Retry-After`.
//! Answers already in the view cache take no permit: serving them costs no computation.

use std::{sync::Arc, time::Duration};

use prometheus_client::{
    metrics::{counter::Counter, gauge::Gauge},
    registry::Registry,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A computation found every permit taken for the whole wait.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "the server is computing as many full views as it may ({limit}) and none finished within \
     {wait:?}; retry later, or ask for a page (`limit`)"
)]
pub struct Busy {
    limit: usize,
    wait: Duration,
}

/// See the module documentation.
#[derive(Debug)]
pub(crate) struct FullViewGate {
    permits: Arc<Semaphore>,
    limit: usize,
    wait: Duration,
    admitted: Counter,
    refused: Counter,
    running: Gauge,
}

impl FullViewGate {
    /// At most `limit` (at least 1) computations at once; each waits at most `wait` for its turn.
    pub(crate) fn new(limit: usize, wait: Duration) -> Self {
        let limit = limit.max(1);
        Self {
            permits: Arc::new(Semaphore::new(limit)),
            limit,
            wait,
            admitted: Counter::default(),
            refused: Counter::default(),
            running: Gauge::default(),
        }
    }

    /// A permit to compute one full view, held until dropped.
    pub(crate) async fn enter(&self) -> Result<Permit, Busy> {
        let waited =
            tokio::time::timeout(self.wait, Arc::clone(&self.permits).acquire_owned()).await;
        match waited {
            Ok(Ok(permit)) => {
                self.admitted.inc();
                self.running.inc();
                Ok(Permit {
                    _permit: permit,
                    running: self.running.clone(),
                })
            }
            // Timed out (the semaphore is never closed).
            _ => {
                self.refused.inc();
                Err(Busy {
                    limit: self.limit,
                    wait: self.wait,
                })
            }
        }
    }

    /// Registers the gate's counters (named under the prefix given, e.g. `pnode_full_views`).
    pub(crate) fn register(&self, registry: &mut Registry) {
        registry.register(
            "admitted",
            "Full-view computations let through",
            self.admitted.clone(),
        );
        registry.register(
            "refused",
            "Full-view computations refused (503) after waiting for a permit",
            self.refused.clone(),
        );
        registry.register(
            "running",
            "Full-view computations running now",
            self.running.clone(),
        );
    }
}

/// The right to compute one full view.
#[derive(Debug)]
pub(crate) struct Permit {
    _permit: OwnedSemaphorePermit,
    running: Gauge,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.running.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_permits_bound_what_runs_and_a_late_computation_is_refused() {
        let gate = FullViewGate::new(2, Duration::from_secs(1));
        let first = gate.enter().await.expect("a first permit");
        let _second = gate.enter().await.expect("a second permit");
        assert_eq!(gate.running.get(), 2);

        let refused = gate.enter().await.expect_err("no third permit");
        assert!(refused.to_string().contains("(2)"), "{refused}");
        assert_eq!(gate.refused.get(), 1);

        // A permit given back lets a waiting computation in.
        let waiting = gate.enter();
        drop(first);
        waiting.await.expect("the freed permit");
        assert_eq!(gate.admitted.get(), 3);
    }
}
