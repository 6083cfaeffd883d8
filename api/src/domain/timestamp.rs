//! The one timestamp format of every answer: RFC 3339 in UTC with milliseconds and a `Z`
//! (`2025-12-06T21:49:13.005Z`), what the dashboards' contract asks for. Use with
//! `#[serde(serialize_with = "timestamp::serialize")]` (or `serialize_option` for an
//! `Option`, which is `null` when absent).

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serializer;

/// `time` as the API writes it.
pub(crate) fn format(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub(crate) fn serialize<S: Serializer>(
    time: &DateTime<Utc>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format(time))
}

pub(crate) fn serialize_option<S: Serializer>(
    time: &Option<DateTime<Utc>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match time {
        Some(time) => serialize(time, serializer),
        None => serializer.serialize_none(),
    }
}

/// Whole seconds of `duration`, rounded up (0.2 s is 1, never 0): what `Retry-After` and
/// actix's shutdown timeout take.
pub(crate) fn seconds_up(duration: std::time::Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_with_milliseconds_and_z() {
        let time = DateTime::from_timestamp(1_765_057_753, 5_123_456).expect("valid");
        assert_eq!(format(&time), "2025-12-06T21:49:13.005Z");
        let mut out = Vec::new();
        serialize_option(&None, &mut serde_json::Serializer::new(&mut out)).expect("serialize");
        assert_eq!(out, b"null");
    }
}
