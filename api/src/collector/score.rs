//! Each node's health score (the parts and weights are in `crate::domain::score`), computed by
//! the collector when it closes a cycle, in the same transaction (so they move with the data
//! version): three small queries (the versions run, the seeds known, the cycles of the day), then
//! two `UPDATE`s over `pnodes`, whose only per-node subqueries walk the node's samples of the day
//! by index (and, for a node first seen within the day, the day's runs by their start). The score
//! is stored as computed, so ordering by it and the leaderboard read one indexed column; answers
//! show it rounded to one decimal (`crate::view::model::shown_score`), the same on both backends.

use chrono::{DateTime, Utc};
use entity::{
    ingestion_run as run, pnode, pnode_seed_sighting as sighting, pnode_stats_sample as sample,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter, QuerySelect,
    sea_query::{Expr, ExprTrait, Func, Query, SelectStatement, SimpleExpr, UpdateStatement},
};

use crate::domain::score::{DAY, VersionCredit, WEIGHTS, version_credit};

/// Computes the parts and score of every node of `network` as of `now` (a cycle's close), in
/// `db`'s transaction: its versions, seeds and cycles are the network's own.
pub async fn refresh(
    db: &impl ConnectionTrait,
    network: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let versions: Vec<(String, i64)> = pnode::Entity::find()
        .select_only()
        .column(pnode::Column::GossipVersion)
        .column_as(Expr::col(pnode::Column::Id).count(), "nodes")
        .filter(pnode::Column::Network.eq(network))
        .filter(pnode::Column::GossipVersion.is_not_null())
        .group_by(pnode::Column::GossipVersion)
        .into_tuple()
        .all(db)
        .await?;
    let credit = version_credit(&versions);
    let cycles_of_the_day: i64 = run::Entity::find()
        .select_only()
        .column_as(Expr::col(run::Column::Id).count(), "cycles")
        .filter(polled(network, now - DAY))
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
        .inner_join(pnode::Entity)
        .filter(pnode::Column::Network.eq(network))
        .into_tuple()
        .one(db)
        .await?
        .unwrap_or(0);
    let figures = Figures {
        network: network.to_owned(),
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
    network: String,
    now: DateTime<Utc>,
    credit: VersionCredit,
    /// Cycles that polled in the day.
    cycles_of_the_day: i64,
    /// Seeds that have reported any node.
    seeds: i64,
}

/// Cycles of `network` that started after `since` and asked nodes for stats (when every seed
/// failed, or the cycle stopped before polling, it asked none).
fn polled(network: &str, since: DateTime<Utc>) -> SimpleExpr {
    Expr::col((run::Entity, run::Column::Network))
        .eq(network)
        .and(Expr::col((run::Entity, run::Column::StartedAt)).gt(since))
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
            stats_success(
                backend,
                since,
                figures.cycles_of_the_day,
                polled(&figures.network, since),
            ),
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
        .value(pnode::Column::ScoredAt, figures.now)
        .and_where(Expr::col(pnode::Column::Network).eq(figures.network.as_str()));

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
    score
        .table(pnode::Entity)
        .value(pnode::Column::Score, sum)
        .and_where(Expr::col(pnode::Column::Network).eq(figures.network.as_str()));
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
            network: "devnet".into(),
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

    fn run(versions: &[(&str, i64)]) -> Vec<(String, i64)> {
        versions
            .iter()
            .map(|(v, n)| ((*v).to_owned(), *n))
            .collect()
    }
}
