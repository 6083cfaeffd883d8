//! The history statements, built with sea-query for each backend. Each reads only the rows inside
//! its window, through a (key, time) index, and downsamples in the database: a bucket is the
//! whole seconds since the window's start over the bucket width, one expression per backend.

use entity::{
    ingestion_run as run, pnode_gossip_observation as observation, pnode_stats_sample as sample,
};
use sea_orm::{
    DbBackend, Statement,
    sea_query::{
        Alias, Asterisk, Expr, ExprTrait, Func, Order, Query, SelectStatement, SimpleExpr,
        WindowStatement,
    },
};

use super::window::Window;

/// The column the bucket index is selected as.
pub(super) const BUCKET: &str = "bucket";
/// Inner alias of the rows being bucketed.
const ROWS: &str = "rows";
/// The alias of each bucket's newest row number.
const NEWEST: &str = "newest";

/// The bucket `time` falls in: (whole seconds of `time` − whole seconds of `from`) / width, in
/// integer arithmetic on both backends.
fn bucket(backend: DbBackend, time: SimpleExpr, window: &Window) -> SimpleExpr {
    let seconds: SimpleExpr = match backend {
        DbBackend::Postgres => Func::cast_as(
            Func::cust("FLOOR").arg(Func::cust("date_part").arg("epoch").arg(time)),
            "BIGINT",
        )
        .into(),
        _ => Func::cast_as(Func::cust("strftime").arg("%s").arg(time), "INTEGER").into(),
    };
    seconds
        .sub(window.from.timestamp())
        .div(window.width_seconds())
}

/// `AVG(expr)` as a double on both backends (PostgreSQL's AVG of integers is NUMERIC).
fn average(expr: SimpleExpr) -> SimpleExpr {
    Func::cast_as(Func::avg(expr), "DOUBLE PRECISION").into()
}

fn at(column: impl sea_orm::sea_query::IntoIden) -> SimpleExpr {
    Expr::col((ROWS, column))
}

/// A node's stats samples in the window, by bucket: samples, cpu avg/max, RAM used avg/max,
/// uptime of the bucket's newest sample, packets in/out and bytes per second avg, streams max.
pub(super) fn stats_buckets(backend: DbBackend, pnode_id: i64, window: &Window) -> Statement {
    let rows = Query::select()
        .column(Asterisk)
        .expr_as(
            bucket(backend, Expr::col(sample::Column::SampledAt), window),
            BUCKET,
        )
        .from(sample::Entity)
        .and_where(Expr::col(sample::Column::PnodeId).eq(pnode_id))
        .and_where(Expr::col(sample::Column::SampledAt).gte(window.from))
        .and_where(Expr::col(sample::Column::SampledAt).lt(window.to))
        .to_owned();
    let ranked = newest_first(rows, sample::Column::SampledAt, sample::Column::Id);
    let uptime_of_newest = Expr::case(
        Expr::col((ROWS, NEWEST)).eq(1),
        at(sample::Column::UptimeSeconds),
    )
    .finally(Expr::val(Option::<i64>::None));
    let statement = Query::select()
        .column((ROWS, BUCKET))
        .expr_as(Func::count(Expr::col(Asterisk)), "samples")
        .expr_as(average(at(sample::Column::CpuPercent)), "cpu_avg")
        .expr_as(Func::max(at(sample::Column::CpuPercent)), "cpu_max")
        .expr_as(average(at(sample::Column::RamUsedBytes)), "ram_used_avg")
        .expr_as(Func::max(at(sample::Column::RamUsedBytes)), "ram_used_max")
        .expr_as(Func::max(uptime_of_newest), "uptime_last")
        .expr_as(
            average(at(sample::Column::PacketsInPerSec)),
            "packets_in_avg",
        )
        .expr_as(
            average(at(sample::Column::PacketsOutPerSec)),
            "packets_out_avg",
        )
        .expr_as(
            average(at(sample::Column::BytesPerSecond)),
            "bytes_per_second_avg",
        )
        .expr_as(
            Func::max(at(sample::Column::ActiveStreams)),
            "active_streams_max",
        )
        .from_subquery(ranked, ROWS)
        .group_by_col((ROWS, BUCKET))
        .order_by((ROWS, BUCKET), Order::Asc)
        .to_owned();
    backend.build(&statement)
}

/// `rows` with `newest`: 1 for each bucket's newest row (by `time`, then `id`), 2 for the next...
fn newest_first(
    rows: SelectStatement,
    time: impl sea_orm::sea_query::IntoIden + Copy,
    id: impl sea_orm::sea_query::IntoIden + Copy,
) -> SelectStatement {
    let mut window = WindowStatement::partition_by((ROWS, BUCKET));
    window
        .order_by((ROWS, time), Order::Desc)
        .order_by((ROWS, id), Order::Desc);
    Query::select()
        .column((ROWS, Asterisk))
        .expr_window_as(Func::cust("ROW_NUMBER"), window, NEWEST)
        .from_subquery(rows, ROWS)
        .to_owned()
}

/// The node's observations in the window where its address, version or public flag differs from
/// the observation before (the first of the window always), oldest first: one row per change,
/// not per observation.
pub(super) fn gossip_changes(backend: DbBackend, pnode_id: i64, window: &Window) -> Statement {
    let mut by_time = WindowStatement::new();
    by_time
        .order_by(observation::Column::ObservedAt, Order::Asc)
        .order_by(observation::Column::Id, Order::Asc);
    let previous = |column: observation::Column, name: &str| {
        (
            Func::cust("LAG").arg(Expr::col(column)),
            by_time.clone(),
            Alias::new(name),
        )
    };
    let mut rows = Query::select();
    rows.columns([
        observation::Column::ObservedAt,
        observation::Column::Address,
        observation::Column::Version,
        observation::Column::IsPublic,
    ]);
    for (expr, window_of, alias) in [
        previous(observation::Column::Address, "previous_address"),
        previous(observation::Column::Version, "previous_version"),
        previous(observation::Column::IsPublic, "previous_is_public"),
    ] {
        rows.expr_window_as(expr, window_of, alias);
    }
    rows.expr_window_as(Func::cust("ROW_NUMBER"), by_time.clone(), "n")
        .from(observation::Entity)
        .and_where(Expr::col(observation::Column::PnodeId).eq(pnode_id))
        .and_where(Expr::col(observation::Column::ObservedAt).gte(window.from))
        .and_where(Expr::col(observation::Column::ObservedAt).lt(window.to));
    // Nulls compared as values: a version appearing or going is a change.
    let differs = |now: SimpleExpr, before: &str, absent: SimpleExpr| {
        Expr::expr(Func::coalesce([now, absent.clone()])).ne(Func::coalesce([
            Expr::col((ROWS, Alias::new(before))),
            absent,
        ]))
    };
    let statement = Query::select()
        .columns([
            (ROWS, observation::Column::ObservedAt),
            (ROWS, observation::Column::Address),
            (ROWS, observation::Column::Version),
            (ROWS, observation::Column::IsPublic),
        ])
        .exprs([
            Expr::col((ROWS, Alias::new("previous_address"))),
            Expr::col((ROWS, Alias::new("previous_version"))),
            Expr::col((ROWS, Alias::new("previous_is_public"))),
        ])
        .from_subquery(rows.to_owned(), ROWS)
        .cond_where(
            sea_orm::sea_query::Condition::any()
                .add(Expr::col((ROWS, Alias::new("n"))).eq(1))
                .add(differs(
                    at(observation::Column::Address),
                    "previous_address",
                    Expr::val(""),
                ))
                .add(differs(
                    at(observation::Column::Version),
                    "previous_version",
                    Expr::val(""),
                ))
                .add(differs(
                    at(observation::Column::IsPublic),
                    "previous_is_public",
                    Expr::val(false),
                )),
        )
        .order_by((ROWS, observation::Column::ObservedAt), Order::Asc)
        .to_owned();
    backend.build(&statement)
}

/// Finished collection runs in the window, by bucket of their start: cycles, nodes observed
/// (avg, max), reachable and public (avg), get-stats attempted and succeeded (sums).
pub(super) fn cycle_buckets(backend: DbBackend, window: &Window, networks: &[&str]) -> Statement {
    let rows = Query::select()
        .column(Asterisk)
        .expr_as(
            bucket(backend, Expr::col(run::Column::StartedAt), window),
            BUCKET,
        )
        .from(run::Entity)
        .and_where(Expr::col(run::Column::StartedAt).gte(window.from))
        .and_where(Expr::col(run::Column::StartedAt).lt(window.to))
        .and_where(Expr::col(run::Column::FinishedAt).is_not_null())
        .and_where(Expr::col(run::Column::Network).is_in(networks.iter().map(|n| (*n).to_owned())))
        .to_owned();
    let sum = |column: run::Column| Func::cast_as(Func::sum(at(column)), "BIGINT");
    let statement = Query::select()
        .column((ROWS, BUCKET))
        .expr_as(Func::count(Expr::col(Asterisk)), "cycles")
        .expr_as(average(at(run::Column::Observed)), "observed_avg")
        .expr_as(Func::max(at(run::Column::Observed)), "observed_max")
        .expr_as(average(at(run::Column::Reachable)), "reachable_avg")
        .expr_as(average(at(run::Column::Public)), "public_avg")
        .expr_as(sum(run::Column::Attempted), "stats_attempted")
        .expr_as(sum(run::Column::Success), "stats_succeeded")
        .from_subquery(rows, ROWS)
        .group_by_col((ROWS, BUCKET))
        .order_by((ROWS, BUCKET), Order::Asc)
        .to_owned();
    backend.build(&statement)
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;

    use super::*;

    fn window() -> Window {
        Window {
            from: DateTime::from_timestamp(1_765_000_000, 0).expect("time"),
            to: DateTime::from_timestamp(1_765_086_400, 0).expect("time"),
            points: 200,
            fixed: true,
        }
    }

    /// What each backend gets: a change of shape is a reviewed diff of these snapshots.
    #[test]
    fn history_statements_per_backend() {
        for (backend, name) in [
            (DbBackend::Postgres, "postgres"),
            (DbBackend::Sqlite, "sqlite"),
        ] {
            insta::assert_snapshot!(
                format!("{name}_stats_buckets"),
                stats_buckets(backend, 7, &window()).sql
            );
            insta::assert_snapshot!(
                format!("{name}_gossip_changes"),
                gossip_changes(backend, 7, &window()).sql
            );
            insta::assert_snapshot!(
                format!("{name}_cycle_buckets"),
                cycle_buckets(backend, &window(), &["devnet"]).sql
            );
        }
    }
}
