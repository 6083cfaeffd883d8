//! "The newest row of each key" in a history table (a node's observations or samples, a pod's
//! credits), in the one SQL shape that stays flat in history depth on each backend. The view, the
//! collector's samples and the credits store all use it.
//!
//! Each key's newest row is found by walking its (key, time) index from the newest end and
//! stopping, never by ranking history (`ROW_NUMBER() OVER (PARTITION BY key ...)` reads every
//! row of it). PostgreSQL: a LATERAL subquery; a correlated scalar subquery there let the planner
//! hash-join whole history tables, measured at 10x slower for 500 nodes (BENCHMARKS.md).
//! SQLite, which has no LATERAL: a join on the id that a correlated scalar subquery picks.

use sea_orm::{
    DbBackend, IdenStatic,
    sea_query::{
        Condition, DynIden, Expr, ExprTrait, IntoIden, JoinType, Order, Query, SelectStatement,
    },
};

/// A history table: rows of a key over time, indexed on (key, time); `id` breaks ties in time.
#[derive(Debug, Clone)]
pub struct History {
    table: DynIden,
    key: DynIden,
    time: DynIden,
    id: DynIden,
}

/// Which row of a key's newest `among` to take.
#[derive(Debug, Clone)]
pub struct Pick {
    /// How many of the newest rows are candidates.
    pub among: u64,
    /// Of the candidates, the newest whose column this is not null; else the newest.
    pub preferring: Option<DynIden>,
}

impl Pick {
    /// The newest row.
    pub fn newest() -> Self {
        Self {
            among: 1,
            preferring: None,
        }
    }
}

/// How a picked row joins a statement.
#[derive(Debug, Clone)]
pub struct PickedJoin<'a> {
    /// `LeftJoin` keeps keys without history, `InnerJoin` drops them.
    pub kind: JoinType,
    /// The joined row's alias in the statement.
    pub alias: &'static str,
    /// The columns the statement reads from it (on SQLite the whole row is joined anyway).
    pub columns: &'a [DynIden],
    pub pick: Pick,
}

/// The alias of the candidates' subquery when a pick prefers a column.
const CANDIDATES: &str = "candidates";
/// The alias of the history table inside a pick's subquery.
const INNER: &str = "history";

impl History {
    pub fn new(
        table: impl IntoIden,
        key: impl IdenStatic,
        time: impl IdenStatic,
        id: impl IdenStatic,
    ) -> Self {
        Self {
            table: table.into_iden(),
            key: key.into_iden(),
            time: time.into_iden(),
            id: id.into_iden(),
        }
    }

    /// `SELECT columns FROM table WHERE key = key ORDER BY time DESC, id DESC LIMIT n`, with the
    /// table aliased `history`: the newest `n` rows of `key`. More conditions may be added.
    pub fn newest(&self, columns: &[DynIden], key: Expr, n: u64) -> SelectStatement {
        let mut select = Query::select();
        for column in columns {
            select.column((INNER, column.clone()));
        }
        select
            .from_as(self.table.clone(), INNER)
            .and_where(Expr::col((INNER, self.key.clone())).eq(key))
            .order_by((INNER, self.time.clone()), Order::Desc)
            .order_by((INNER, self.id.clone()), Order::Desc)
            .limit(n);
        select
    }

    /// The subquery yielding the picked row of `key` (its `columns`).
    fn picked(&self, columns: &[DynIden], key: Expr, pick: &Pick) -> SelectStatement {
        let Some(preferred) = &pick.preferring else {
            return self.newest(columns, key, pick.among);
        };
        let mut inner = columns.to_vec();
        for needed in [&self.time, &self.id, preferred] {
            if !inner.contains(needed) {
                inner.push(needed.clone());
            }
        }
        let mut select = Query::select();
        for column in columns {
            select.column((CANDIDATES, column.clone()));
        }
        select
            .from_subquery(self.newest(&inner, key, pick.among), CANDIDATES)
            .order_by_expr(
                Expr::col((CANDIDATES, preferred.clone())).is_null(),
                Order::Asc,
            )
            .order_by((CANDIDATES, self.time.clone()), Order::Desc)
            .order_by((CANDIDATES, self.id.clone()), Order::Desc)
            .limit(1);
        select
    }

    /// Joins to `select` the picked row of each `key` (an expression over the tables already in
    /// `select`), as `join` says.
    pub fn join_picked(
        &self,
        backend: DbBackend,
        select: &mut SelectStatement,
        key: Expr,
        join: &PickedJoin<'_>,
    ) {
        match backend {
            DbBackend::Postgres => {
                select.join_lateral(
                    join.kind,
                    self.picked(join.columns, key, &join.pick),
                    join.alias,
                    Condition::all().add(Expr::cust("TRUE")),
                );
            }
            _ => {
                let id = self.picked(std::slice::from_ref(&self.id), key, &join.pick);
                select.join_as(
                    join.kind,
                    self.table.clone(),
                    join.alias,
                    Expr::col((join.alias, self.id.clone()))
                        .eq(Expr::SubQuery(None, Box::new(id.into()))),
                );
            }
        }
    }
}
