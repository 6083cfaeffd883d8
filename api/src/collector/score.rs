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
//! The collector computes every node's score and parts when it closes a cycle, in the same
//! transaction (so they move with the data version): three small queries (the versions run, the
//! seeds known, the cycles of the day), then two `UPDATE`s over `pnodes`, whose only per-node
//! subqueries walk the node's samples of the day by index (and, for a node first seen within the
//! day, the day's runs by their start). The score is stored as computed, so ordering by it and the
//! leaderboard read one indexed column; answers show it rounded to one decimal
//! (`view::model::shown_score`), the same on both backends.

use chrono::{DateTime, Duration, Utc};
use entity::{
    ingestion_run as run, pnode, pnode_seed_sighting as sighting, pnode_stats_sample as sample,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter, QuerySelect,
    sea_query::{Expr, ExprTrait, Func, Query, SelectStatement, SimpleExpr, UpdateStatement},
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::version;

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

/// Computes every node's parts and score as of `now` (a cycle's close), in `db`'s transaction.
pub async fn refresh(db: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<(), DbErr> {
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
    let cycles_of_the_day: i64 = run::Entity::find()
        .select_only()
        .column_as(Expr::col(run::Column::Id).count(), "cycles")
        .filter(polled(now - DAY))
        .into_tuple()
        .one(db)
        .await?
        .unwrap_or(0);
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
    let figures = Figures {
        now,
        credit,
        cycles_of_the_day,
        seeds,
    };
    let (parts, score) = updates(db.get_database_backend(), &figures);
    db.execute(&parts).await?;
    db.execute(&score).await?;
    Ok(())
}

/// What the updates need besides each node's own rows.
#[derive(Debug, Clone)]
struct Figures {
    now: DateTime<Utc>,
    credit: VersionCredit,
    /// Cycles that polled in the day.
    cycles_of_the_day: i64,
    /// Seeds that have reported any node.
    seeds: i64,
}

/// Cycles that started after `since` and asked nodes for stats (when every seed failed, or the
/// cycle stopped before polling, it asked none).
fn polled(since: DateTime<Utc>) -> SimpleExpr {
    Expr::col((run::Entity, run::Column::StartedAt))
        .gt(since)
        .and(Expr::col((run::Entity, run::Column::Attempted)).gt(0))
}

/// The two `UPDATE`s: every node's parts, then its score from them.
fn updates(backend: DbBackend, figures: &Figures) -> (UpdateStatement, UpdateStatement) {
    let since = figures.now - DAY;
    let mut parts = Query::update();
    parts
        .table(pnode::Entity)
        .value(
            pnode::Column::ScoreReachable,
            Expr::case(Expr::col(pnode::Column::Reachable).eq(true), 1.0).finally(0.0),
        )
        .value(
            pnode::Column::ScoreStatsSuccess,
            stats_success(backend, since, figures.cycles_of_the_day, polled(since)),
        )
        .value(
            pnode::Column::ScoreVersion,
            version_currency(&figures.credit),
        )
        .value(pnode::Column::ScoreUptime, uptime(backend))
        .value(
            pnode::Column::ScoreSeeds,
            seed_visibility(backend, figures.seeds),
        )
        .value(pnode::Column::ScoredAt, figures.now);

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
    let mut score = Query::update();
    score.table(pnode::Entity).value(pnode::Column::Score, sum);
    (parts, score)
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

/// Samples of the node since `since` ÷ the cycles that `polled` since then and since the node was
/// first seen (`cycles_of_the_day` for a node older than the day, counted once), at most 1; 0
/// when no cycle counts.
fn stats_success(
    backend: DbBackend,
    since: DateTime<Utc>,
    cycles_of_the_day: i64,
    polled: SimpleExpr,
) -> SimpleExpr {
    let first_seen = || Expr::col((pnode::Entity, pnode::Column::CreatedAt));
    let samples = Query::select()
        .expr(Expr::col(sample::Column::Id).count())
        .from(sample::Entity)
        .and_where(Expr::col((sample::Entity, sample::Column::PnodeId)).eq(node_id()))
        .and_where(Expr::col((sample::Entity, sample::Column::SampledAt)).gt(since))
        .to_owned();
    let since_first_seen = Query::select()
        .expr(Expr::col(run::Column::Id).count())
        .from(run::Entity)
        .and_where(polled)
        .and_where(Expr::col((run::Entity, run::Column::StartedAt)).gte(first_seen()))
        .to_owned();
    let cycles =
        Expr::case(first_seen().lte(since), cycles_of_the_day).finally(subquery(since_first_seen));
    let ratio = subquery(samples)
        .mul(1.0)
        .div(Func::cust("NULLIF").arg(cycles).arg(0));
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

/// When the last get-stats call succeeded, the newest sample's uptime over a day, at most 1;
/// else 0 (a node that stopped answering is not credited with what it last said).
fn uptime(backend: DbBackend) -> SimpleExpr {
    let seconds = Expr::col(pnode::Column::StatsUptimeSeconds)
        .mul(1.0)
        .div(DAY.num_seconds() as f64);
    let capped = least(backend, Func::coalesce([seconds, Expr::val(0.0)]), 1.0);
    // A negative uptime (a broken node) counts as none.
    Expr::case(
        Expr::col(pnode::Column::Reachable)
            .eq(true)
            .and(Expr::col(pnode::Column::StatsUptimeSeconds).gte(0)),
        capped,
    )
    .finally(0.0)
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

    /// What each backend gets: a change of shape is a reviewed diff of these snapshots.
    #[test]
    fn updates_per_backend() {
        let figures = Figures {
            now: DateTime::from_timestamp(1_765_057_753, 0).expect("a time"),
            credit: version_credit(&run(&[("0.8.1", 3), ("0.8.0", 2)])),
            cycles_of_the_day: 1440,
            seeds: 3,
        };
        for (backend, name) in [
            (DbBackend::Postgres, "postgres"),
            (DbBackend::Sqlite, "sqlite"),
        ] {
            let (parts, score) = updates(backend, &figures);
            insta::assert_snapshot!(format!("{name}_parts"), backend.build(&parts).to_string());
            insta::assert_snapshot!(format!("{name}_score"), backend.build(&score).to_string());
        }
    }

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
