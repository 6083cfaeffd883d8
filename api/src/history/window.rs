//! The time window of a history request (`from`, `to`, `points`), validated, and the buckets it
//! is cut into: at most `points` of equal width, the first starting at `from`.

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::domain::params::{self, InvalidParameter};

/// Points (buckets) a history answer has at most, unless asked.
pub(crate) const DEFAULT_POINTS: u64 = 200;
/// The most points one may ask for.
pub(crate) const MAX_POINTS: u64 = 1000;

/// The query string as it arrives.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RawWindow {
    /// Start of the window, RFC 3339 (default: 24 hours before `to`). The window is at most as
    /// long as the history kept (`PNODE_RETAIN_STATS` for a node's, `PNODE_RETAIN_RUNS` for the
    /// network's: 30 days by default); a longer one is a 400 naming `from`.
    #[param(value_type = Option<String>, format = DateTime, example = "2025-12-05T21:49:13Z")]
    pub from: Option<String>,
    /// End of the window, RFC 3339, excluded (default: now).
    #[param(value_type = Option<String>, format = DateTime, example = "2025-12-06T21:49:13Z")]
    pub to: Option<String>,
    /// Most buckets in the answer, 1 to 1000 (default 200).
    #[param(value_type = Option<u64>, minimum = 1, maximum = 1000)]
    pub points: Option<String>,
}

/// A validated window: `[from, to)` in `points` buckets of `width` seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub points: u64,
    /// Whether `from` and `to` were both given: only then does the answer depend on the data
    /// alone (not on the clock), and can be cached.
    pub fixed: bool,
}

impl Window {
    /// Reads `raw` at `now`; the window may not be longer than `longest` (what is kept).
    pub fn parse(
        raw: RawWindow,
        now: DateTime<Utc>,
        longest: Duration,
    ) -> Result<Self, InvalidParameter> {
        let to = raw
            .to
            .as_deref()
            .map(|to| params::timestamp("to", to))
            .transpose()?;
        let from = raw
            .from
            .as_deref()
            .map(|from| params::timestamp("from", from))
            .transpose()?;
        let points = raw
            .points
            .map(|points| params::integer("points", &points, 1, MAX_POINTS))
            .transpose()?
            .unwrap_or(DEFAULT_POINTS);
        let fixed = from.is_some() && to.is_some();
        let to = to.unwrap_or(now);
        let from = from.unwrap_or(to - Duration::hours(24));
        if from >= to {
            return Err(InvalidParameter::new("from", "must be before `to`"));
        }
        if to - from > longest {
            return Err(InvalidParameter::new(
                "from",
                format!(
                    "must be at most {} days before `to`: history is kept that long",
                    longest.num_days()
                ),
            ));
        }
        Ok(Self {
            from,
            to,
            points,
            fixed,
        })
    }

    /// Seconds per bucket: the window over `points`, rounded up to whole seconds.
    pub fn width_seconds(&self) -> i64 {
        let span = (self.to - self.from).num_seconds().max(1);
        let points = i64::try_from(self.points).unwrap_or(i64::MAX);
        (span + points - 1) / points
    }

    /// When bucket `index` starts.
    pub fn bucket_start(&self, index: i64) -> DateTime<Utc> {
        self.from + Duration::seconds(index.saturating_mul(self.width_seconds()))
    }

    /// The window in one canonical text, for cache keys and ETags.
    pub fn canonical(&self) -> String {
        format!(
            "from={}&to={}&points={}",
            self.from.timestamp_millis(),
            self.to.timestamp_millis(),
            self.points
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_765_057_753, 0).expect("a time")
    }

    fn parse(
        from: Option<&str>,
        to: Option<&str>,
        points: Option<&str>,
    ) -> Result<Window, InvalidParameter> {
        Window::parse(
            RawWindow {
                from: from.map(str::to_owned),
                to: to.map(str::to_owned),
                points: points.map(str::to_owned),
            },
            now(),
            Duration::days(30),
        )
    }

    #[test]
    fn the_default_is_the_last_day_in_200_points() {
        let window = parse(None, None, None).expect("valid");
        assert_eq!(window.to, now());
        assert_eq!(window.from, now() - Duration::hours(24));
        assert_eq!((window.points, window.width_seconds()), (200, 432));
        assert!(!window.fixed);
    }

    #[test]
    fn buckets_cover_the_window_in_whole_seconds() {
        let window = parse(
            Some("2025-12-06T00:00:00Z"),
            Some("2025-12-06T00:00:10Z"),
            Some("3"),
        )
        .expect("valid");
        assert_eq!(window.width_seconds(), 4);
        assert_eq!(window.bucket_start(2), window.from + Duration::seconds(8));
        assert!(window.fixed);
    }

    #[test]
    fn bad_windows_name_the_parameter() {
        for (from, to, points, parameter) in [
            (Some("yesterday"), None, None, "from"),
            (None, Some("2025-13-01T00:00:00Z"), None, "to"),
            (None, None, Some("0"), "points"),
            (None, None, Some("1001"), "points"),
            (
                Some("2025-12-07T00:00:00Z"),
                Some("2025-12-06T00:00:00Z"),
                None,
                "from",
            ),
            (
                Some("2025-10-01T00:00:00Z"),
                Some("2025-12-06T00:00:00Z"),
                None,
                "from",
            ),
        ] {
            let err = parse(from, to, points).expect_err(parameter);
            assert_eq!(err.parameter, parameter, "{err}");
        }
    }
}
