//! Query parameters, validated: the error that names a bad one and what it accepts, and the
//! parsers every endpoint's parameters share. A known parameter with a bad value is refused (400
//! at the HTTP edge); unknown parameters are ignored by the endpoints (dashboards add
//! cache-busters).

use std::fmt;

/// A query or path parameter has a value outside what it accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("parameter `{parameter}` {problem}")]
pub struct InvalidParameter {
    pub parameter: &'static str,
    /// What is wrong, e.g. "must be true or false, not \"yes\"".
    pub problem: String,
}

impl InvalidParameter {
    pub fn new(parameter: &'static str, problem: impl fmt::Display) -> Self {
        Self {
            parameter,
            problem: problem.to_string(),
        }
    }
}

/// Characters of a bad value quoted back in an error message.
const EXCERPT_CHARS: usize = 40;

/// `value` quoted for an error message: its first characters, and `…` when there are more (a
/// client's input is echoed bounded, whatever its length).
pub(crate) fn excerpt(value: &str) -> String {
    let mut chars = value.chars();
    let shown: String = chars.by_ref().take(EXCERPT_CHARS).collect();
    if chars.next().is_some() {
        format!("{shown:?}…")
    } else {
        format!("{shown:?}")
    }
}

/// `None` for an absent or blank value.
pub(crate) fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

/// `value` if it is at most `max` bytes long.
pub(crate) fn bounded(
    parameter: &'static str,
    value: String,
    max: usize,
) -> Result<String, InvalidParameter> {
    if value.len() > max {
        return Err(InvalidParameter::new(
            parameter,
            format!("must be at most {max} bytes long, not {}", value.len()),
        ));
    }
    Ok(value)
}

/// `value` if it holds no control character (a NUL byte would match everything on SQLite and
/// fail on PostgreSQL).
pub(crate) fn text(parameter: &'static str, value: String) -> Result<String, InvalidParameter> {
    if value.chars().any(char::is_control) {
        return Err(InvalidParameter::new(
            parameter,
            "must not contain control characters",
        ));
    }
    Ok(value)
}

/// `true` or `false`.
pub(crate) fn boolean(parameter: &'static str, value: &str) -> Result<bool, InvalidParameter> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(InvalidParameter::new(
            parameter,
            format!("must be true or false, not {}", excerpt(other)),
        )),
    }
}

/// An integer from `min` to `max`.
pub(crate) fn integer(
    parameter: &'static str,
    value: &str,
    min: u64,
    max: u64,
) -> Result<u64, InvalidParameter> {
    value
        .parse::<u64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| {
            InvalidParameter::new(
                parameter,
                format!(
                    "must be an integer from {min} to {max}, not {}",
                    excerpt(value)
                ),
            )
        })
}

/// One of `choices`, by name.
pub(crate) fn one_of<T: Copy>(
    parameter: &'static str,
    value: &str,
    choices: &[(&str, T)],
) -> Result<T, InvalidParameter> {
    choices
        .iter()
        .find(|(name, _)| *name == value)
        .map(|(_, choice)| *choice)
        .ok_or_else(|| {
            let names: Vec<_> = choices.iter().map(|(name, _)| *name).collect();
            InvalidParameter::new(
                parameter,
                format!(
                    "must be one of {}, not {}",
                    names.join(", "),
                    excerpt(value)
                ),
            )
        })
}

/// An RFC 3339 time, e.g. `2025-12-06T21:49:13Z` (any offset; kept in UTC).
pub(crate) fn timestamp(
    parameter: &'static str,
    value: &str,
) -> Result<chrono::DateTime<chrono::Utc>, InvalidParameter> {
    chrono::DateTime::parse_from_rfc3339(value)
        .map(|time| time.to_utc())
        .map_err(|err| {
            InvalidParameter::new(
                parameter,
                format!(
                    "must be an RFC 3339 time like 2025-12-06T21:49:13Z, not {} ({err})",
                    excerpt(value)
                ),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_parser_names_its_parameter_and_what_it_accepts() {
        assert_eq!(
            boolean("public", "1").expect_err("1").to_string(),
            r#"parameter `public` must be true or false, not "1""#
        );
        assert_eq!(
            integer("limit", "0", 1, 1000).expect_err("0").to_string(),
            r#"parameter `limit` must be an integer from 1 to 1000, not "0""#
        );
        assert_eq!(
            one_of("order", "up", &[("asc", 0), ("desc", 1)])
                .expect_err("up")
                .to_string(),
            r#"parameter `order` must be one of asc, desc, not "up""#
        );
        assert_eq!(integer("offset", "20", 0, 30), Ok(20));
    }

    #[test]
    fn a_long_value_is_quoted_by_its_start_only() {
        let long = "x".repeat(10_000);
        let message = integer("limit", &long, 1, 1000)
            .expect_err("not a number")
            .to_string();
        assert!(message.len() < 120, "{message}");
        assert!(message.ends_with("xxx\"…"), "{message}");
        assert_eq!(excerpt("é".repeat(41).as_str()).chars().count(), 43);
    }
}
