//! "The newest row of each key" in a history table (a node's observations or samples, a pod's
//! credits), in the one SQL shape that stays flat in history depth on each backend. The view, the
//! collector's samples and the credits store all use it.
//!
//! Each key's newest row is found by walking its (key, time) index from the newest end and
//! stopping, never by ranking history (`ROW_NUMBER() OVER (PARTITION BY key ...)` reads every
//! row of it). PostgreSQL: a LATERAL subquery; a correlated scalar subquery there let the planner
//! hash-join whole history tables, measured at 10x slower for 500 nodes (BENCHMARKS.md).
//! SQLite, which has no LATERAL: a join on the id that a correlated scalar subquery picks.

use entity::{
    pnode_gossip_observation as observation, pnode_stats_sample as sample,
    pod_credits_snapshot as snapshot,
};
use sea_orm::{
    DbBackend, EntityTrait, Iterable,
    sea_query::{
        Asterisk, Condition, DynIden, Expr, ExprTrait, IntoIden, JoinType, Order, Query,
        SelectStatement,
    },
};

/// A history table: rows of a key over time, indexed on (key, time); `id` breaks ties in time.
#[derive(Debug, Clone)]
pub(crate) struct History {
    table: DynIden,
    key: DynIden,
    time: DynIden,
    id: DynIden,
    /// Every column of the table.
    columns: Vec<DynIden>,
    /// A column every row considered must equal this (the network of credits snapshots).
    within: Option<(DynIden, Expr)>,
}

/// A node's gossip observations.
pub(crate) fn observations() -> History {
    History::new(
        observation::Entity,
        observation::Column::PnodeId,
        observation::Column::ObservedAt,
        observation::Column::Id,
    )
}

/// A node's stats samples.
pub(crate) fn samples() -> History {
    History::new(
        sample::Entity,
        sample::Column::PnodeId,
        sample::Column::SampledAt,
        sample::Column::Id,
    )
}

/// A pod's credits snapshots on `network` (by pubkey: credits may come before gossip), indexed on
/// (pubkey, network, time).
pub(crate) fn credit_snapshots(network: Expr) -> History {
    History::new(
        snapshot::Entity,
        snapshot::Column::PodPubkey,
        snapshot::Column::ObservedAt,
        snapshot::Column::Id,
    )
    .within(snapshot::Column::Network, network)
}

/// Which row of a key's newest `among` to take.
#[derive(Debug, Clone)]
pub(crate) struct Pick {
    /// How many of the newest rows are candidates.
    pub among: u64,
    /// Of the candidates, the newest whose column this is not null; else the newest.
    pub preferring: Option<DynIden>,
    /// Instead: of the rows at the newest time, the one whose column this is highest (nulls
    /// lowest), ties by the lowest id (the first written).
    pub freshest: Option<DynIden>,
}

impl Pick {
    /// The newest row.
    pub(crate) fn newest() -> Self {
        Self {
            among: 1,
            preferring: None,
            freshest: None,
        }
    }

    /// Of the rows at the newest time, the highest of `column` (see [`Pick::freshest`]).
    pub(crate) fn freshest(column: impl IntoIden) -> Self {
        Self {
            freshest: Some(column.into_iden()),
            ..Self::newest()
        }
    }
}

/// How a picked row joins a statement.
#[derive(Debug, Clone)]
pub(crate) struct PickedJoin {
    /// `LeftJoin` keeps keys without history, `InnerJoin` drops them.
    pub kind: JoinType,
    /// The joined row's alias in the statement, where all its columns can be read.
    pub alias: &'static str,
    pub pick: Pick,
}

/// The alias of the candidates' subquery when a pick prefers a column.
const CANDIDATES: &str = "candidates";
/// The alias of the history table inside a pick's subquery.
const INNER: &str = "history";

impl History {
    pub(crate) fn new<E: EntityTrait>(
        entity: E,
        key: E::Column,
        time: E::Column,
        id: E::Column,
    ) -> Self {
        Self {
            table: entity.into_iden(),
            key: key.into_iden(),
            time: time.into_iden(),
            id: id.into_iden(),
            columns: E::Column::iter().map(IntoIden::into_iden).collect(),
            within: None,
        }
    }

    /// The same history, of the rows whose `column` equals `value` only.
    pub(crate) fn within(mut self, column: impl IntoIden, value: Expr) -> Self {
        self.within = Some((column.into_iden(), value));
        self
    }

    /// Every column of the newest row of each key that `driver` (a statement with its FROM and
    /// conditions, selecting nothing yet) yields as `key`: keys without history are left out.
    pub(crate) fn newest_of_each(
        &self,
        backend: DbBackend,
        mut driver: SelectStatement,
        key: Expr,
    ) -> SelectStatement {
        const NEWEST: &str = "newest";
        for column in &self.columns {
            driver.column((NEWEST, column.clone()));
        }
        self.join_picked(
            backend,
            &mut driver,
            key,
            &PickedJoin {
                kind: JoinType::InnerJoin,
                alias: NEWEST,
                pick: Pick::newest(),
            },
        );
        driver
    }

    /// `SELECT columns FROM table WHERE key = key ORDER BY time DESC, id DESC LIMIT n`, with the
    /// table aliased `history`: the newest `n` rows of `key`. More conditions may be added.
    pub(crate) fn newest(&self, columns: &[DynIden], key: Expr, n: u64) -> SelectStatement {
        let mut select = Query::select();
        for column in columns {
            select.column((INNER, column.clone()));
        }
        select
            .from_as(self.table.clone(), INNER)
            .and_where(Expr::col((INNER, self.key.clone())).eq(key));
        if let Some((column, value)) = &self.within {
            select.and_where(Expr::col((INNER, column.clone())).eq(value.clone()));
        }
        select
            .order_by((INNER, self.time.clone()), Order::Desc)
            .order_by((INNER, self.id.clone()), Order::Desc)
            .limit(n);
        select
    }

    /// The time column of the rows [`History::newest`] selects, for further conditions on them.
    pub(crate) fn time_of_newest(&self) -> Expr {
        Expr::col((INNER, self.time.clone()))
    }

    /// The subquery yielding the picked row of `key`: its `columns`, or all of them (`None`).
    fn picked(&self, columns: Option<&[DynIden]>, key: Expr, pick: &Pick) -> SelectStatement {
        if let Some(freshness) = &pick.freshest {
            return self.freshest_at_newest_time(columns, key, freshness);
        }
        let Some(preferred) = &pick.preferring else {
            return self.newest_select(columns, key, pick.among);
        };
        // The candidates carry what the pick orders by, and what the caller reads.
        let inner: Option<Vec<DynIden>> = columns.map(|columns| {
            let mut inner = columns.to_vec();
            for needed in [&self.time, &self.id, preferred] {
                if !inner.contains(needed) {
                    inner.push(needed.clone());
                }
            }
            inner
        });
        let candidates = self.newest_select(inner.as_deref(), key, pick.among);
        let mut outer = Query::select();
        match columns {
            Some(columns) => {
                for column in columns {
                    outer.column((CANDIDATES, column.clone()));
                }
            }
            None => {
                outer.column((CANDIDATES, Asterisk));
            }
        }
        outer
            .from_subquery(candidates, CANDIDATES)
            .order_by_expr(
                Expr::col((CANDIDATES, preferred.clone())).is_null(),
                Order::Asc,
            )
            .order_by((CANDIDATES, self.time.clone()), Order::Desc)
            .order_by((CANDIDATES, self.id.clone()), Order::Desc)
            .limit(1);
        outer
    }

    /// Of `key`'s rows at its newest time (one index walk finds it; the rows at that time are an
    /// index range of a few), the one with the highest `freshness` (nulls lowest), ties by the
    /// lowest id.
    fn freshest_at_newest_time(
        &self,
        columns: Option<&[DynIden]>,
        key: Expr,
        freshness: &DynIden,
    ) -> SelectStatement {
        const NEWEST: &str = "newest_time";
        let newest_time = Query::select()
            .column((NEWEST, self.time.clone()))
            .from_as(self.table.clone(), NEWEST)
            .and_where(Expr::col((NEWEST, self.key.clone())).eq(key.clone()))
            .order_by((NEWEST, self.time.clone()), Order::Desc)
            .limit(1)
            .to_owned();
        let mut select = Query::select();
        match columns {
            Some(columns) => {
                for column in columns {
                    select.column((INNER, column.clone()));
                }
            }
            None => {
                select.column((INNER, Asterisk));
            }
        }
        select
            .from_as(self.table.clone(), INNER)
            .and_where(Expr::col((INNER, self.key.clone())).eq(key))
            .and_where(
                Expr::col((INNER, self.time.clone()))
                    .eq(Expr::SubQuery(None, Box::new(newest_time.into()))),
            )
            .order_by_expr(Expr::col((INNER, freshness.clone())).is_null(), Order::Asc)
            .order_by((INNER, freshness.clone()), Order::Desc)
            .order_by((INNER, self.id.clone()), Order::Asc)
            .limit(1);
        select
    }

    /// [`History::newest`] with every column when `columns` is `None`.
    fn newest_select(&self, columns: Option<&[DynIden]>, key: Expr, n: u64) -> SelectStatement {
        match columns {
            Some(columns) => self.newest(columns, key, n),
            None => {
                let mut select = self.newest(&[], key, n);
                select.column((INNER, Asterisk));
                select
            }
        }
    }

    /// Joins to `select` the picked row of each `key` (an expression over the tables already in
    /// `select`), as `join` says.
    pub(crate) fn join_picked(
        &self,
        backend: DbBackend,
        select: &mut SelectStatement,
        key: Expr,
        join: &PickedJoin,
    ) {
        match backend {
            DbBackend::Postgres => {
                select.join_lateral(
                    join.kind,
                    self.picked(None, key, &join.pick),
                    join.alias,
                    Condition::all().add(Expr::cust("TRUE")),
                );
            }
            _ => {
                let id = self.picked(Some(std::slice::from_ref(&self.id)), key, &join.pick);
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
