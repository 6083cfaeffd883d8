//! Node software versions, ordered as people read them: "0.10.0" after "0.9.1".

use std::cmp::Ordering;

/// Orders two version strings: by the numeric core ("0.8.0" of "0.8.0-trynet.20251212183600.9eea72e"),
/// missing parts counting as 0; for the same core a build with a suffix (a pre-release, as in
/// semver) comes before the plain release, and two suffixes compare as text (trynet suffixes carry
/// fixed-width timestamps). Strings with no numeric core ("unknown") come before every real version.
pub fn compare(a: &str, b: &str) -> Ordering {
    let (core_a, rest_a) = split(a);
    let (core_b, rest_b) = split(b);
    match (core_a.is_empty(), core_b.is_empty()) {
        (true, true) => return a.cmp(b),
        (true, false) => return Ordering::Less,
        (false, true) => return Ordering::Greater,
        (false, false) => {}
    }
    let width = core_a.len().max(core_b.len());
    let part = |core: &[u64], i: usize| core.get(i).copied().unwrap_or(0);
    (0..width)
        .map(|i| part(&core_a, i).cmp(&part(&core_b, i)))
        .find(|order| order.is_ne())
        .unwrap_or_else(|| match (rest_a.is_empty(), rest_b.is_empty()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => rest_a.cmp(rest_b),
        })
}

/// The numeric core of a version: [0, 8, 0] of "0.8.0-trynet.1".
pub fn core(version: &str) -> Vec<u64> {
    split(version).0
}

/// Splits "1.2.3-x" into ([1, 2, 3], "-x"). The core stops at the first part that is not a number.
fn split(version: &str) -> (Vec<u64>, &str) {
    let version = version.trim();
    let mut core = Vec::new();
    let mut rest = version;
    loop {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let Ok(number) = rest[..digits].parse::<u64>() else {
            break;
        };
        core.push(number);
        rest = &rest[digits..];
        match rest.strip_prefix('.') {
            Some(after) if after.starts_with(|c: char| c.is_ascii_digit()) => rest = after,
            _ => break,
        }
    }
    (core, rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_by_their_numeric_core_then_the_rest() {
        let mut versions = vec![
            "0.10.0",
            "unknown",
            "0.8.0",
            "0.9.1",
            "0.8.0-trynet.20251212183600.9eea72e",
            "0.7.3",
            "0.8.0-trynet.20251208141952.3b3bb24",
            "1.0",
            "0.9",
        ];
        versions.sort_by(|a, b| compare(a, b));
        assert_eq!(
            versions,
            [
                "unknown",
                "0.7.3",
                "0.8.0-trynet.20251208141952.3b3bb24",
                "0.8.0-trynet.20251212183600.9eea72e",
                "0.8.0",
                "0.9",
                "0.9.1",
                "0.10.0",
                "1.0",
            ]
        );
    }

    #[test]
    fn missing_parts_count_as_zero() {
        assert_eq!(compare("0.7", "0.7.0"), Ordering::Equal);
        assert_eq!(compare("0.7.0.1", "0.7"), Ordering::Greater);
    }

    #[test]
    fn a_dot_without_a_number_ends_the_core() {
        assert_eq!(split("1.2.x"), (vec![1, 2], ".x"));
        assert_eq!(split("v1.2"), (vec![], "v1.2"));
    }
}
