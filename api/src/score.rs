//! Each node's health score: 0 to 100, the weighted sum of five parts that are each 0 to 1.
//!
//! | part | weight | value |
//! |---|---|---|
//! | `reachable` | 30 | 1 when the node's last get-stats call succeeded, else 0 |
//! | `statsSuccess24h` | 25 | of the collection cycles that closed in the last 24 hours since the node was first seen, the share that recorded a stats sample of it (at most 1) |
//! | `versionCurrency` | 20 | 1 on the bar or a newer version, 0.5 on an older one of the bar's major.minor, else 0 (no version: 0). The bar is the newest version (in numeric order) that at least two nodes run, or the newest of all when none has two: one node cannot set it |
//! | `uptime` | 15 | the newest stats sample's uptime over 24 hours (at most 1) |
//! | `seedVisibility` | 10 | the seeds that have reported the node over all seeds that have reported any node |
//!
//! The score is rounded to one decimal. The collector computes every node's score and parts when
//! it closes a cycle, in the same transaction (so they move with the data version), as two
//! `UPDATE`s over `pnodes` plus two small queries (the versions run, the seeds known): ordering
//! by score and the leaderboard then read one indexed column.

use chrono::{DateTime, Duration, Utc};
use entity::{
    ingestion_run as run, pnode, pnode_seed_sighting as sighting, pnode_stats_sample as sample,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter, QuerySelect,
    sea_query::{Expr, ExprTrait, Func, Query, SelectStatement, SimpleExpr},
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::view::version;

/// The window of `statsSuccess24h` and the uptime that earns a full `uptime` part.
pub const DAY: Duration = Duration::hours(24);

/// The weight of each part, in points: they add up to 100.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Weights {
    pub reachable: f64,
    #[serde(rename = "statsSuccess24h")]
    pub stats_success_24h: f64,
    pub version_currency: f64,
    pub uptime: f64,
    pub seed_visibility: f64,
}

/// The published weights.
pub const WEIGHTS: Weights = Weights {
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
pub struct VersionCredit {
    /// The bar: the newest version that at least two nodes run (the newest of all when no
    /// version has two).
    pub newest: Option<String>,
    /// The bar and every version past it (1).
    pub full: Vec<String>,
    /// Older versions of the bar's major.minor (0.5).
    pub half: Vec<String>,
}

/// Which versions of `run` (each with the number of nodes running it) earn full or half credit.
pub fn version_credit(run: &[(String, i64)]) -> VersionCredit {
    let newest = |min: i64| {
        run.iter()
            .filter(|(_, nodes)| *nodes >= min)
            .map(|(text, _)| text)
            .max_by(|a, b| version::compare(a, b))
    };
    let Some(bar) = newest(2).or_else(|| newest(1)) else {
        return VersionCredit::default();
    };
    let major_minor = |text: &str| {
        let core = version::core(text);
        (core.len() >= 2).then(|| (core[0], core[1]))
    };
    let bar_major_minor = major_minor(bar);
    let mut credit = VersionCredit {
        newest: Some(bar.clone()),
        ..VersionCredit::default()
    };
    for (text, _) in run {
        if version::compare(text, bar).is_ge() {
            credit.full.push(text.clone());
        } else if bar_major_minor.is_some() && major_minor(text) == bar_major_minor {
            credit.half.push(text.clone());
        }
    }
    for class in [&mut credit.full, &mut credit.half] {
        class.sort_by(|a, b| version::compare(b, a));
        class.truncate(MAX_VERSIONS_PER_CLASS);
    }
    credit
}

/// Computes every node's parts and score as of `now` (a cycle's close), in `db`'s transaction.
pub async fn refresh(db: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let versions: Vec<(String, i64)> = pnode::Entity::find()
        .select_only()
        .column(pnode::Column::GossipVersion)
        .column_as(Expr::col(pnode::Column::Id).count(), "nodes")
        .filter(pnode::Column::GossipVersion.is_not_null())
        .group_by(pnode::Column::GossipVersion)
        .into_tuple()
        .all(db)
        .await?;
    let credit = version_credit(&versions);
    let seeds: i64 = sighting::Entity::find()
        .select_only()
        .column_as(
            Expr::col(sighting::Column::SeedBaseUrl).count_distinct(),
            "seeds",
        )
        .into_tuple()
        .one(db)
        .await?
        .unwrap_or(0);

    let mut parts = Query::update();
    parts
        .table(pnode::Entity)
        .value(
            pnode::Column::ScoreReachable,
            Expr::case(Expr::col(pnode::Column::Reachable).eq(true), 1.0).finally(0.0),
        )
        .value(
            pnode::Column::ScoreStatsSuccess,
            stats_success(backend, now),
        )
        .value(pnode::Column::ScoreVersion, version_currency(&credit))
        .value(pnode::Column::ScoreUptime, uptime(backend))
        .value(pnode::Column::ScoreSeeds, seed_visibility(backend, seeds))
        .value(pnode::Column::ScoredAt, now);
    db.execute(&parts).await?;

    // The parts as just written (an UPDATE's expressions read the row as it was before it).
    let part = |column: pnode::Column, weight: f64| Expr::col(column).mul(weight);
    let sum = part(pnode::Column::ScoreReachable, WEIGHTS.reachable)
        .add(part(
            pnode::Column::ScoreStatsSuccess,
            WEIGHTS.stats_success_24h,
        ))
        .add(part(pnode::Column::ScoreVersion, WEIGHTS.version_currency))
        .add(part(pnode::Column::ScoreUptime, WEIGHTS.uptime))
        .add(part(pnode::Column::ScoreSeeds, WEIGHTS.seed_visibility));
    // round(double, int) does not exist on PostgreSQL; round(numeric, int) does on both.
    let rounded = Func::round_with_precision(Func::cast_as(sum, "NUMERIC"), 1);
    let mut score = Query::update();
    score
        .table(pnode::Entity)
        .value(pnode::Column::Score, rounded);
    db.execute(&score).await?;
    Ok(())
}

/// The smaller of two numbers (`LEAST` on PostgreSQL, `min` on SQLite).
fn least(backend: DbBackend, a: impl Into<SimpleExpr>, b: impl Into<SimpleExpr>) -> SimpleExpr {
    let name = match backend {
        DbBackend::Postgres => "LEAST",
        _ => "MIN",
    };
    Func::cust(name).arg(a.into()).arg(b.into()).into()
}

/// `(select)` as a value.
fn subquery(select: SelectStatement) -> SimpleExpr {
    Expr::SubQuery(None, Box::new(select.into()))
}

/// `this row's id`, for correlated subqueries of an `UPDATE pnodes`.
fn node_id() -> SimpleExpr {
    Expr::col((pnode::Entity, pnode::Column::Id))
}

/// Samples of the node in the last day ÷ cycles closed in the last day since it was first seen,
/// at most 1; 0 when no cycle counts.
fn stats_success(backend: DbBackend, now: DateTime<Utc>) -> SimpleExpr {
    let since = now - DAY;
    let samples = Query::select()
        .expr(Expr::col(sample::Column::Id).count())
        .from(sample::Entity)
        .and_where(Expr::col((sample::Entity, sample::Column::PnodeId)).eq(node_id()))
        .and_where(Expr::col((sample::Entity, sample::Column::SampledAt)).gt(since))
        .to_owned();
    let cycles = Query::select()
        .expr(Expr::col(run::Column::Id).count())
        .from(run::Entity)
        .and_where(Expr::col((run::Entity, run::Column::FinishedAt)).gt(since))
        .and_where(
            Expr::col((run::Entity, run::Column::FinishedAt))
                .gte(Expr::col((pnode::Entity, pnode::Column::CreatedAt))),
        )
        .to_owned();
    let ratio = subquery(samples)
        .mul(1.0)
        .div(Func::cust("NULLIF").arg(subquery(cycles)).arg(0));
    least(backend, Func::coalesce([ratio, Expr::val(0.0)]), 1.0)
}

/// 1 on the bar or past it, 0.5 on an older version of its major.minor, else 0.
fn version_currency(credit: &VersionCredit) -> SimpleExpr {
    let version = || Expr::col(pnode::Column::GossipVersion);
    let mut case = Expr::case(version().is_in(credit.full.iter().cloned()), 1.0);
    if !credit.half.is_empty() {
        case = case.case(version().is_in(credit.half.iter().cloned()), 0.5);
    }
    case.finally(0.0).into()
}

/// The newest sample's uptime over a day, at most 1; 0 without one.
fn uptime(backend: DbBackend) -> SimpleExpr {
    let seconds = Expr::col(pnode::Column::StatsUptimeSeconds)
        .mul(1.0)
        .div(DAY.num_seconds() as f64);
    let capped = least(
        backend,
        Func::coalesce([seconds, Expr::val(0.0)]),
        1.0,
    );
    // A negative uptime (a broken node) counts as none.
    Expr::case(Expr::col(pnode::Column::StatsUptimeSeconds).lt(0), 0.0)
        .finally(capped)
        .into()
}

/// The seeds that reported the node over `seeds`, the seeds that reported any node.
fn seed_visibility(backend: DbBackend, seeds: i64) -> SimpleExpr {
    if seeds == 0 {
        return Expr::val(0.0);
    }
    let seen = Query::select()
        .expr(Expr::col(sighting::Column::SeedBaseUrl).count())
        .from(sighting::Entity)
        .and_where(Expr::col((sighting::Entity, sighting::Column::PnodeId)).eq(node_id()))
        .to_owned();
    let share = subquery(seen).mul(1.0).div(seeds as f64);
    least(backend, share, 1.0)
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
    fn the_bar_is_the_newest_version_two_nodes_run_unless_none_has_two() {
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
                full: vec!["9.9.9".into(), "0.8.1".into()],
                half: vec!["0.8.0".into(), "0.8.0-trynet.20251212183600.9eea72e".into()],
            }
        );
        let alone = version_credit(&run(&[("0.7.3", 1), ("0.10.0", 1)]));
        assert_eq!(alone.newest.as_deref(), Some("0.10.0"));
        assert_eq!(alone.full, vec!["0.10.0".to_owned()]);
        assert!(alone.half.is_empty());
        assert_eq!(version_credit(&[]), VersionCredit::default());
    }
}
