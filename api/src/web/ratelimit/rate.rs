//! `PNODE_RATE_LIMIT`: how many requests a client address may make per period.

use std::{num::NonZeroU32, str::FromStr, time::Duration};

use governor::Quota;

/// `N/s`, `N/min` or `N/h` (the burst is `N`), or `0` (no limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit(Option<(NonZeroU32, Duration)>);

impl RateLimit {
    /// No limit.
    pub const OFF: Self = Self(None);

    pub(super) fn quota(self) -> Option<Quota> {
        let (requests, period) = self.0?;
        let quota = Quota::with_period(period / requests.get())?;
        Some(quota.allow_burst(requests))
    }
}

impl FromStr for RateLimit {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text == "0" || text == "off" {
            return Ok(Self::OFF);
        }
        let refuse = || format!("{text:?} is not a rate like 1200/min, 20/s or 10000/h (or 0)");
        let (requests, period) = text.split_once('/').ok_or_else(refuse)?;
        let requests: NonZeroU32 = requests.trim().parse().map_err(|_| refuse())?;
        let period = match period.trim() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            _ => return Err(refuse()),
        };
        if period.as_nanos() < u128::from(requests.get()) {
            return Err(refuse());
        }
        Ok(Self(Some((requests, period))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_read_as_operators_write_them() {
        assert_eq!("0".parse(), Ok(RateLimit::OFF));
        let quota = "600/min"
            .parse::<RateLimit>()
            .expect("valid")
            .quota()
            .expect("a quota");
        assert_eq!(quota.burst_size().get(), 600);
        assert_eq!(quota.replenish_interval(), Duration::from_millis(100));
        for bad in ["600", "600/week", "x/min", "-1/s", ""] {
            assert!(bad.parse::<RateLimit>().is_err(), "{bad:?}");
        }
    }
}
