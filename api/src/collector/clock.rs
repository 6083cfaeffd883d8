//! The collector's clock: the system's, possibly moved ahead. Everything a cycle writes
//! (observation and sample times, backoffs, runs, retention cut-offs) is read from it, so a test
//! lets a minute pass by moving the clock, and the code runs exactly as it would a minute later.

use std::sync::{
    Arc,
    atomic::{AtomicI64, Ordering},
};

use chrono::{DateTime, Duration, Utc};

/// Wall-clock time plus an offset that only grows (zero in production). Clones share the offset.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    ahead_ms: Arc<AtomicI64>,
}

impl Clock {
    /// Now, by this clock.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + Duration::milliseconds(self.ahead_ms.load(Ordering::Relaxed))
    }

    /// Moves the clock ahead by `by` (for tests: time passes without waiting for it).
    pub fn advance(&self, by: std::time::Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.ahead_ms.fetch_add(ms, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_advanced_clock_is_ahead_of_the_wall_by_that_much() {
        let clock = Clock::default();
        let shared = clock.clone();
        shared.advance(std::time::Duration::from_secs(60));
        let ahead = clock.now() - Utc::now();
        assert!(
            (59_900..=60_100).contains(&ahead.num_milliseconds()),
            "{ahead}"
        );
    }
}
