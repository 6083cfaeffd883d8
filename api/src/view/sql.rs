//! The statements of the global view, built with sea-query for each backend. Every per-node
//! "newest" pick goes through [`History`] (one index walk per node, whatever the depth of
//! history), so nothing here reads a node's history into Rust.

use chrono::{DateTime, Utc};
use entity::{
    pnode, pnode_gossip_observation as observation, pnode_seed_sighting as sighting,
    pnode_stats_sample as sample, pod_credits_snapshot as snapshot,
};
use sea_orm::{
    DbBackend, PartialModelTrait, QuerySelect, Statement,
    sea_query::{
        Condition, Expr, ExprTrait, Func, IntoIden, JoinType, LikeExpr, NullOrdering,
        Order as SqlOrder, Query, SelectStatement, SimpleExpr,
    },
};

use super::{
    query::{Filter, Order, PnodeQuery, Scope, SortKey},
    row::{
        CREDITS_DAY_AGO, CREDITS_NOW, NODE, NodeColumns, OBSERVATION, ObservationColumns, SAMPLE,
        SampleColumns, prefix,
    },
};
use crate::db::newest::{Pick, PickedJoin, credit_snapshots, observations, samples};

/// The sample `latestStats` shows: of the node's two newest, the newer one with a throughput
/// value, else the newest.
fn shown_sample() -> Pick {
    Pick {
        among: 2,
        preferring: Some(sample::Column::BytesPerSecond.into_iden()),
        freshest: None,
    }
}

/// `pnodes p` with each node's newest observation `o` and shown sample `s` joined; all their
/// columns can be read. The newest observation is the freshest report of the node's newest cycle
/// (highest `last_seen_timestamp`; ties by the seed listed first, whose answer is written
/// first): the rule the collector's copies on the node's row follow too, so that seeds that
/// disagree give one value. In a seed's scope, `o` is the node's observation in that seed's
/// newest answer, and nodes without one are left out.
pub(crate) fn with_latest(backend: DbBackend, select: &mut SelectStatement, scope: &Scope) {
    let node_id = || Expr::col((NODE, pnode::Column::Id));
    match scope {
        Scope::Network => observations().join_picked(
            backend,
            select,
            node_id(),
            &PickedJoin {
                kind: JoinType::LeftJoin,
                alias: OBSERVATION,
                pick: Pick::freshest(observation::Column::LastSeenTimestamp),
            },
        ),
        Scope::Seed {
            base_url,
            answered_at,
        } => {
            let of = |column| Expr::col((OBSERVATION, column));
            select.join_as(
                JoinType::InnerJoin,
                observation::Entity,
                OBSERVATION,
                Condition::all()
                    .add(of(observation::Column::PnodeId).equals((NODE, pnode::Column::Id)))
                    .add(of(observation::Column::SeedBaseUrl).eq(base_url.as_str()))
                    .add(of(observation::Column::ObservedAt).eq(*answered_at)),
            );
        }
    }
    samples().join_picked(
        backend,
        select,
        node_id(),
        &PickedJoin {
            kind: JoinType::LeftJoin,
            alias: SAMPLE,
            pick: shown_sample(),
        },
    );
}

/// The ids of every node the query selects, in its order (with the newest observation's
/// version when ordering by version, which is compared in Rust: see `version::compare`).
/// Paging is applied by the caller, so the total comes with it.
pub(crate) fn ordered_ids(backend: DbBackend, query: &PnodeQuery) -> Statement {
    let mut select = Query::select();
    select
        .column((NODE, pnode::Column::Id))
        .from_as(pnode::Entity, NODE);
    if needs_latest(query) {
        with_latest(backend, &mut select, &query.scope);
    }
    if query.sort == SortKey::Version {
        select.column((OBSERVATION, observation::Column::Version));
    }
    select.cond_where(filter(&query.filter));
    order(backend, &mut select, query.sort, query.order);
    backend.build(&select)
}

/// Whether the scope, the filter or the order reads the newest observation or the shown sample.
fn needs_latest(query: &PnodeQuery) -> bool {
    let f = &query.filter;
    query.scope != Scope::Network
        || f.public.is_some()
        || f.version.is_some()
        || f.text.is_some()
        || matches!(
            query.sort,
            SortKey::Version | SortKey::Uptime | SortKey::ActiveStreams | SortKey::LastSeen
        )
}

fn filter(filter: &Filter) -> Condition {
    let mut all = Condition::all();
    if let Some(networks) = &filter.networks {
        all = all.add(
            Expr::col((NODE, pnode::Column::Network))
                .is_in(networks.iter().map(|network| network.as_str().to_owned())),
        );
    }
    if let Some(seed) = &filter.seed {
        const SIGHTING: &str = "ss";
        all = all.add(Expr::exists(
            Query::select()
                .expr(Expr::val(1))
                .from_as(sighting::Entity, SIGHTING)
                .and_where(
                    Expr::col((SIGHTING, sighting::Column::PnodeId))
                        .equals((NODE, pnode::Column::Id)),
                )
                .and_where(Expr::col((SIGHTING, sighting::Column::SeedBaseUrl)).eq(seed.as_str()))
                .to_owned(),
        ));
    }
    if let Some(reachable) = filter.reachable {
        all = all.add(Expr::col((NODE, pnode::Column::Reachable)).eq(reachable));
    }
    if let Some(public) = filter.public {
        // A null is_public means private.
        let is_public = Func::coalesce([
            Expr::col((OBSERVATION, observation::Column::IsPublic)),
            Expr::val(false),
        ]);
        all = all.add(Expr::expr(is_public).eq(public));
    }
    if let Some(version) = &filter.version {
        all = all.add(Expr::col((OBSERVATION, observation::Column::Version)).eq(version.as_str()));
    }
    if let Some(text) = &filter.text {
        let pattern = || LikeExpr::new(format!("%{}%", escape_like(text))).escape('\\');
        all = all.add(
            Condition::any()
                .add(
                    Expr::expr(Func::lower(Expr::col((NODE, pnode::Column::Pubkey))))
                        .like(pattern()),
                )
                .add(
                    Expr::expr(Func::lower(Expr::col((
                        OBSERVATION,
                        observation::Column::Address,
                    ))))
                    .like(pattern()),
                ),
        );
    }
    all
}

/// `text` with LIKE's wildcards and its escape character taken literally.
fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// Nulls last in both directions, then the id, so pages are stable.
fn order(backend: DbBackend, select: &mut SelectStatement, sort: SortKey, order: Order) {
    let direction = match order {
        Order::Asc => SqlOrder::Asc,
        Order::Desc => SqlOrder::Desc,
    };
    let key: Option<SimpleExpr> = match sort {
        SortKey::Id | SortKey::Version => None,
        SortKey::Pubkey => Some(Expr::col((NODE, pnode::Column::Pubkey))),
        SortKey::Uptime => Some(Expr::col((SAMPLE, sample::Column::UptimeSeconds))),
        SortKey::ActiveStreams => Some(Expr::col((SAMPLE, sample::Column::ActiveStreams))),
        SortKey::Credits => Some(Expr::col((NODE, pnode::Column::LatestCredits))),
        SortKey::Score => Some(Expr::col((NODE, pnode::Column::Score))),
        SortKey::LastSeen => Some(last_seen_seconds(backend)),
    };
    if let Some(key) = key {
        select.order_by_expr_with_nulls(key, direction.clone(), NullOrdering::Last);
    }
    select.order_by((NODE, pnode::Column::Id), direction);
}

/// `gossipLastSeen` in unix seconds: the reported `last_seen_timestamp`, else when it was observed.
fn last_seen_seconds(backend: DbBackend) -> SimpleExpr {
    let observed = Expr::col((OBSERVATION, observation::Column::ObservedAt));
    let observed_seconds: SimpleExpr = match backend {
        DbBackend::Postgres => {
            Func::cast_as(Func::cust("date_part").arg("epoch").arg(observed), "BIGINT")
        }
        _ => Func::cast_as(Func::cust("strftime").arg("%s").arg(observed), "INTEGER"),
    }
    .into();
    let reported = Func::cust("NULLIF")
        .arg(Expr::col((
            OBSERVATION,
            observation::Column::LastSeenTimestamp,
        )))
        .arg(0);
    Func::coalesce([reported.into(), observed_seconds]).into()
}

/// Every field of the view for the nodes `ids`: the columns of each node (prefixed `p_`), of its
/// newest observation (`o_`) and of its shown sample (`s_`) that the partial models of
/// `model.rs` read, and its credits now and 24 hours before `now` (`credits_now`,
/// `credits_day_ago`).
pub(crate) fn details(
    backend: DbBackend,
    ids: &[i64],
    now: DateTime<Utc>,
    scope: &Scope,
) -> Statement {
    let mut select = Query::select();
    select.from_as(pnode::Entity, NODE);
    let mut projection = Projection(select);
    projection = NodeColumns::select_cols_nested(projection, Some(&prefix(NODE)), Some(NODE));
    projection = ObservationColumns::select_cols_nested(
        projection,
        Some(&prefix(OBSERVATION)),
        Some(OBSERVATION),
    );
    projection = SampleColumns::select_cols_nested(projection, Some(&prefix(SAMPLE)), Some(SAMPLE));
    let Projection(mut select) = projection;
    let pubkey = || Expr::col((NODE, pnode::Column::Pubkey));
    let credits = [snapshot::Column::Credits.into_iden()];
    let day_ago = now - chrono::Duration::hours(24);
    let of_its_network = || credit_snapshots(Expr::col((NODE, pnode::Column::Network)));
    select
        .expr_as(of_its_network().newest(&credits, pubkey(), 1), CREDITS_NOW)
        .expr_as(
            of_its_network()
                .newest(&credits, pubkey(), 1)
                .and_where(of_its_network().time_of_newest().lte(day_ago))
                .to_owned(),
            CREDITS_DAY_AGO,
        );
    with_latest(backend, &mut select, scope);
    select.and_where(Expr::col((NODE, pnode::Column::Id)).is_in(ids.iter().copied()));
    backend.build(&select)
}

/// A sea-query statement seen as SeaORM's `QuerySelect`, so that a partial model can add its
/// columns to it.
#[derive(Debug)]
struct Projection(SelectStatement);

impl QuerySelect for Projection {
    type QueryStatement = SelectStatement;

    fn query(&mut self) -> &mut SelectStatement {
        &mut self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_wildcards_in_search_text_are_literal() {
        assert_eq!(escape_like(r"50%_a\b"), r"50\%\_a\\b");
    }

    /// The statement as text with its bound values, for a snapshot.
    fn shown(statement: &Statement) -> String {
        let values = statement
            .values
            .as_ref()
            .map(|values| format!("{:?}", values.0))
            .unwrap_or_default();
        format!("{}\n-- values: {values}", statement.sql)
    }

    fn every_filter() -> PnodeQuery {
        PnodeQuery {
            scope: Scope::Network,
            filter: Filter {
                networks: Some(vec!["devnet".parse().expect("a name")]),
                seed: Some("http://127.0.0.1:6000".into()),
                reachable: Some(true),
                public: Some(false),
                version: Some("0.7.3".into()),
                text: Some("a%b".into()),
            },
            sort: SortKey::LastSeen,
            order: Order::Desc,
            limit: Some(50),
            offset: 0,
        }
    }

    /// What each backend gets: a change of shape is a reviewed diff of these snapshots.
    #[test]
    fn statements_per_backend() {
        let now = DateTime::from_timestamp(1_765_057_753, 0).expect("a time");
        for (backend, name) in [
            (DbBackend::Postgres, "postgres"),
            (DbBackend::Sqlite, "sqlite"),
        ] {
            insta::assert_snapshot!(
                format!("{name}_ids_by_id"),
                shown(&ordered_ids(backend, &PnodeQuery::default()))
            );
            insta::assert_snapshot!(
                format!("{name}_ids_every_filter_by_last_seen"),
                shown(&ordered_ids(backend, &every_filter()))
            );
            let by_version = PnodeQuery {
                sort: SortKey::Version,
                ..PnodeQuery::default()
            };
            insta::assert_snapshot!(
                format!("{name}_ids_by_version"),
                shown(&ordered_ids(backend, &by_version))
            );
            insta::assert_snapshot!(
                format!("{name}_details"),
                shown(&details(backend, &[1, 2], now, &Scope::Network))
            );
            let seed = PnodeQuery {
                scope: Scope::Seed {
                    base_url: "http://127.0.0.1:6000".into(),
                    answered_at: now,
                },
                ..PnodeQuery::default()
            };
            insta::assert_snapshot!(
                format!("{name}_ids_of_a_seeds_answer"),
                shown(&ordered_ids(backend, &seed))
            );
        }
    }

    #[test]
    fn a_plain_listing_touches_no_history() {
        let sql = ordered_ids(DbBackend::Sqlite, &PnodeQuery::default()).to_string();
        assert!(!sql.contains("pnode_gossip_observations"), "{sql}");
        assert!(!sql.contains("pnode_stats_samples"), "{sql}");
    }
}
