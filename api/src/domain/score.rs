//! Each node's health score: 0 to 100, the weighted sum of five parts that are each 0 to 1.
//!
//! | part | weight | value |
//! |---|---|---|
//! | `reachable` | 30 | 1 when the node's last get-stats call succeeded, else 0 |
//! | `statsSuccess24h` | 25 | of the collection cycles that started in the last 24 hours (since the node was first seen) and asked nodes for stats, the share that recorded a stats sample of it (at most 1). A cycle in which every seed failed, or one stopped before polling, asked no node and does not count |
//! | `versionCurrency` | 20 | 1 on the bar or a newer version, 0.5 on an older one of the bar's major.minor, else 0 (no version: 0). The bar is the newest version (in numeric order) that at least 2 nodes and 5 % of the nodes with a version run, or the newest of all when none does: a few nodes cannot set it |
//! | `uptime` | 15 | when the node's last get-stats call succeeded, its newest sample's uptime over 24 hours (at most 1); else 0 |
//! | `seedVisibility` | 10 | the seeds that have reported the node over all seeds that have reported any node |
//!
//! The collector computes them when it closes a cycle (`crate::collector::score`).

use chrono::Duration;
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::version;

/// The window of `statsSuccess24h` and the uptime that earns a full `uptime` part.
pub(crate) const DAY: Duration = Duration::hours(24);

/// The weight of each part, in points: they add up to 100.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Weights {
    pub reachable: f64,
    #[serde(rename = "statsSuccess24h")]
    pub stats_success_24h: f64,
    pub version_currency: f64,
    pub uptime: f64,
    pub seed_visibility: f64,
}

/// The published weights.
pub(crate) const WEIGHTS: Weights = Weights {
    reachable: 30.0,
    stats_success_24h: 25.0,
    version_currency: 20.0,
    uptime: 15.0,
    seed_visibility: 10.0,
};

/// Versions with more distinct values than this in one credit class are not all listed; the
/// rest count as 0 (a real network runs a handful of versions).
const MAX_VERSIONS_PER_CLASS: usize = 1000;

/// The versions `versionCurrency` gives credit to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct VersionCredit {
    /// The bar: the newest version that at least two nodes run (the newest of all when no
    /// version has two).
    pub newest: Option<String>,
    /// The bar and every version past it (1).
    pub full: Vec<String>,
    /// Older versions of the bar's major.minor (0.5).
    pub half: Vec<String>,
}

/// Which versions of `run` (each with the number of nodes running it) earn full or half credit.
pub(crate) fn version_credit(run: &[(String, i64)]) -> VersionCredit {
    let versioned: i64 = run.iter().map(|(_, nodes)| *nodes).sum();
    // At least 2 nodes and 5 % of the nodes with a version.
    let enough = Ord::max((versioned + 19) / 20, 2);
    let newest = |min: i64| {
        run.iter()
            .filter(|(_, nodes)| *nodes >= min)
            .map(|(text, _)| text)
            .max_by(|a, b| version::compare(a, b))
    };
    let Some(bar) = newest(enough).or_else(|| newest(1)) else {
        return VersionCredit::default();
    };
    let major_minor = |text: &str| {
        let core = version::core(text);
        (core.len() >= 2).then(|| (core[0], core[1]))
    };
    let bar_major_minor = major_minor(bar);
    let mut full = Vec::new();
    let mut half = Vec::new();
    // The most run first, so that the cap below drops the rarest.
    let mut by_nodes: Vec<&(String, i64)> = run.iter().collect();
    by_nodes.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| version::compare(&b.0, &a.0)));
    for (text, _) in by_nodes {
        if text == bar {
            continue;
        }
        if version::compare(text, bar).is_ge() {
            full.push(text.clone());
        } else if bar_major_minor.is_some() && major_minor(text) == bar_major_minor {
            half.push(text.clone());
        }
    }
    // The bar itself always gets full credit.
    full.insert(0, bar.clone());
    full.truncate(MAX_VERSIONS_PER_CLASS);
    half.truncate(MAX_VERSIONS_PER_CLASS);
    VersionCredit {
        newest: Some(bar.clone()),
        full,
        half,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_weights_add_up_to_100() {
        let w = WEIGHTS;
        let total =
            w.reachable + w.stats_success_24h + w.version_currency + w.uptime + w.seed_visibility;
        assert!((total - 100.0).abs() < f64::EPSILON, "{total}");
    }

    fn run(versions: &[(&str, i64)]) -> Vec<(String, i64)> {
        versions
            .iter()
            .map(|(v, n)| ((*v).to_owned(), *n))
            .collect()
    }

    #[test]
    fn the_bar_is_the_newest_version_enough_nodes_run() {
        // 16 nodes with a version: "enough" is 2 (5 % is under 1).
        let credit = version_credit(&run(&[
            ("0.7.3", 5),
            ("0.8.1", 2),
            ("9.9.9", 1),
            ("0.8.0-trynet.20251212183600.9eea72e", 1),
            ("0.8.0", 3),
            ("unknown", 4),
        ]));
        assert_eq!(
            credit,
            VersionCredit {
                newest: Some("0.8.1".into()),
                full: vec!["0.8.1".into(), "9.9.9".into()],
                half: vec!["0.8.0".into(), "0.8.0-trynet.20251212183600.9eea72e".into()],
            }
        );
        // 100 nodes: a version needs 5 of them to be the bar.
        let credit = version_credit(&run(&[("0.8.0", 93), ("0.8.1", 4), ("99.0.0", 3)]));
        assert_eq!(credit.newest.as_deref(), Some("0.8.0"));
        assert_eq!(credit.full, ["0.8.0", "0.8.1", "99.0.0"]);
        let alone = version_credit(&run(&[("0.7.3", 1), ("0.10.0", 1)]));
        assert_eq!(alone.newest.as_deref(), Some("0.10.0"));
        assert_eq!(alone.full, vec!["0.10.0".to_owned()]);
        assert!(alone.half.is_empty());
        assert_eq!(version_credit(&[]), VersionCredit::default());
    }

    #[test]
    fn the_bar_keeps_full_credit_past_the_cap() {
        // 1,600 nodes: the bar needs 80; 1.0.0 has 100, each newer one 1.
        let mut versions = run(&[("1.0.0", 100)]);
        versions.extend((0..1500).map(|i| (format!("2.0.{i}"), 1)));
        let credit = version_credit(&versions);
        assert_eq!(credit.newest.as_deref(), Some("1.0.0"));
        assert_eq!(credit.full.len(), MAX_VERSIONS_PER_CLASS);
        assert_eq!(credit.full[0], "1.0.0");
    }
}
