//! One fetched answer, stored: a snapshot per pod whose value changed or whose newest snapshot is
//! old enough, and each known node's current value. One transaction; every statement covers up
//! to [`ROWS_PER_STATEMENT`] pods, so the cost in round trips grows with pods / 1000.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, TimeDelta, Utc};
use entity::{pnode, pod_credits_snapshot as snapshot};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, FromQueryResult, QueryFilter,
    QuerySelect, Statement, TransactionSession, TransactionTrait,
    sea_query::{CaseStatement, Expr, Query},
};

use super::{Credit, CreditsError, CreditsPolicy, CreditsReport};
use crate::{
    db::{ROWS_PER_STATEMENT, newest::credit_snapshots, version},
    push::events::{self, Change},
};

/// A pod's newest snapshot.
type Newest = snapshot::Model;

/// Stores one fetched answer of `network`'s source at `now`, in one transaction: a
/// `pod_credits_snapshots` row (`source_url` = `url`) per pod whose newest snapshot on the network
/// is at least `policy.snapshot_every` old or holds another value, and `pnodes.latest_credits` /
/// `credits_updated_at` for every known node of the network (matched by pubkey) whose value
/// changed or was null. Pods not in `pnodes` still get
/// snapshots: credits may arrive before gossip. A pubkey listed twice keeps its first entry.
#[tracing::instrument(level = "debug", name = "store credits", skip(db, credits, policy), fields(pods = credits.len()))]
pub async fn store<C>(
    db: &C,
    network: &str,
    url: &str,
    credits: &[Credit],
    policy: &CreditsPolicy,
    now: DateTime<Utc>,
) -> Result<CreditsReport, CreditsError>
where
    C: ConnectionTrait + TransactionTrait,
{
    let mut seen = HashSet::with_capacity(credits.len());
    let unique: Vec<&Credit> = credits
        .iter()
        .filter(|credit| seen.insert(credit.pubkey.as_str()))
        .collect();
    let mut report = CreditsReport {
        received: unique.len(),
        skipped: credits.len() - unique.len(),
        ..CreditsReport::default()
    };
    let credits = unique;
    if credits.is_empty() {
        return Ok(report);
    }
    // An interval too long for chrono means "only on change".
    let every = TimeDelta::from_std(policy.snapshot_every).unwrap_or(TimeDelta::MAX);

    let txn = db.begin().await?;
    let pubkeys: Vec<&str> = credits.iter().map(|c| c.pubkey.as_str()).collect();
    let newest = newest(&txn, network, &pubkeys).await?;
    let due: Vec<_> = credits
        .iter()
        .filter(|c| snapshot_due(newest.get(&c.pubkey), c.credits, every, now))
        .map(|c| snapshot::ActiveModel {
            network: Set(network.to_owned()),
            pod_pubkey: Set(c.pubkey.clone()),
            credits: Set(c.credits),
            observed_at: Set(now),
            source_url: Set(url.to_owned()),
            ..Default::default()
        })
        .collect();
    for chunk in due.chunks(ROWS_PER_STATEMENT) {
        // What the database says it inserted, not what was sent.
        let inserted = snapshot::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&txn)
            .await?;
        report.snapshots += usize::try_from(inserted).unwrap_or(usize::MAX);
    }

    let changed = changed_nodes(&txn, network, &credits).await?;
    for chunk in changed.chunks(ROWS_PER_STATEMENT) {
        report.nodes_updated += set_latest(&txn, chunk, now).await?;
    }
    if report.snapshots > 0 || report.nodes_updated > 0 {
        let change = Change::Credits {
            received: i64::try_from(report.received).unwrap_or(i64::MAX),
            snapshots: i64::try_from(report.snapshots).unwrap_or(i64::MAX),
            nodes_updated: i64::try_from(report.nodes_updated).unwrap_or(i64::MAX),
        };
        report.events = events::record(&txn, network, vec![change], now).await?;
        version::bump(&txn, now).await?;
    }
    txn.commit().await?;
    Ok(report)
}

/// Whether a pod at `credits` needs a snapshot, given its newest one.
fn snapshot_due(
    newest: Option<&Newest>,
    credits: i64,
    every: TimeDelta,
    now: DateTime<Utc>,
) -> bool {
    newest.is_none_or(|newest| newest.credits != credits || now - newest.observed_at >= every)
}

/// The newest snapshot of each of `pubkeys` that has one, keyed by pubkey.
async fn newest(
    db: &impl ConnectionTrait,
    network: &str,
    pubkeys: &[&str],
) -> Result<HashMap<String, Newest>, DbErr> {
    let mut newest = HashMap::with_capacity(pubkeys.len());
    for chunk in pubkeys.chunks(ROWS_PER_STATEMENT) {
        let statement = newest_snapshots(db.get_database_backend(), network, chunk);
        for row in db.query_all_raw(statement).await? {
            let snapshot = snapshot::Model::from_query_result(&row, "")?;
            newest.insert(snapshot.pod_pubkey.clone(), snapshot);
        }
    }
    Ok(newest)
}

/// The newest snapshot on `network` of each of `pubkeys`, driven by the list itself (a VALUES
/// table `k`), so that each pod costs one index walk and no pod's older history is read.
fn newest_snapshots(backend: DbBackend, network: &str, pubkeys: &[&str]) -> Statement {
    const KEYS: &str = "k";
    /// The one column of a VALUES table, as both backends name it.
    const KEY: &str = "column1";
    let keys = Query::select()
        .from_values(pubkeys.iter().map(|&key| key.to_owned()), KEYS)
        .to_owned();
    let statement =
        credit_snapshots(Expr::val(network)).newest_of_each(backend, keys, Expr::col((KEYS, KEY)));
    backend.build(&statement)
}

/// The known nodes of `network` among `credits` whose `latest_credits` differs (or is null):
/// (id, credits).
async fn changed_nodes(
    db: &impl ConnectionTrait,
    network: &str,
    credits: &[&Credit],
) -> Result<Vec<(i64, i64)>, DbErr> {
    let mut changed = Vec::new();
    for chunk in credits.chunks(ROWS_PER_STATEMENT) {
        let by_pubkey: HashMap<&str, i64> = chunk
            .iter()
            .map(|c| (c.pubkey.as_str(), c.credits))
            .collect();
        let nodes: Vec<(i64, String, Option<i64>)> = pnode::Entity::find()
            .select_only()
            .columns([
                pnode::Column::Id,
                pnode::Column::Pubkey,
                pnode::Column::LatestCredits,
            ])
            .filter(pnode::Column::Network.eq(network))
            .filter(pnode::Column::Pubkey.is_in(by_pubkey.keys().copied()))
            .into_tuple()
            .all(db)
            .await?;
        for (id, pubkey, latest) in nodes {
            match by_pubkey.get(pubkey.as_str()) {
                Some(&credits) if latest != Some(credits) => changed.push((id, credits)),
                _ => {}
            }
        }
    }
    Ok(changed)
}

/// Sets each node's new value in one statement: `latest_credits = CASE id WHEN .. THEN .. END`
/// (each node has its own value, so grouping by value would still be a statement per node).
async fn set_latest(
    db: &impl ConnectionTrait,
    nodes: &[(i64, i64)],
    now: DateTime<Utc>,
) -> Result<usize, DbErr> {
    let value = nodes
        .iter()
        .fold(CaseStatement::new(), |case, &(id, credits)| {
            case.case(pnode::Column::Id.eq(id), Expr::value(credits))
        })
        .finally(Expr::col(pnode::Column::LatestCredits));
    let updated = pnode::Entity::update_many()
        .col_expr(pnode::Column::LatestCredits, value.into())
        .col_expr(pnode::Column::CreditsUpdatedAt, Expr::value(now))
        .filter(pnode::Column::Id.is_in(nodes.iter().map(|&(id, _)| id)))
        .exec(db)
        .await?;
    Ok(usize::try_from(updated.rows_affected).unwrap_or(usize::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn newest(credits: i64, seconds_ago: i64, now: DateTime<Utc>) -> Newest {
        Newest {
            id: 1,
            network: "devnet".into(),
            pod_pubkey: "pod".into(),
            credits,
            observed_at: now - TimeDelta::seconds(seconds_ago),
            source_url: "http://127.0.0.1:8000/api/pods-credits".into(),
        }
    }

    #[test]
    fn the_newest_snapshots_per_backend() {
        for (backend, name) in [
            (DbBackend::Postgres, "postgres"),
            (DbBackend::Sqlite, "sqlite"),
        ] {
            insta::assert_snapshot!(
                format!("{name}_newest_snapshots"),
                newest_snapshots(backend, "devnet", &["a", "b"]).sql
            );
        }
    }

    #[test]
    fn a_snapshot_is_due_for_a_new_pod_a_changed_value_or_an_old_snapshot() {
        let now = Utc::now();
        let day = TimeDelta::days(1);
        assert!(snapshot_due(None, 5, day, now), "first");
        assert!(snapshot_due(Some(&newest(4, 60, now)), 5, day, now), "up");
        assert!(
            snapshot_due(Some(&newest(9, 60, now)), 5, day, now),
            "reset"
        );
        assert!(
            snapshot_due(Some(&newest(5, 86_400, now)), 5, day, now),
            "old"
        );
        assert!(!snapshot_due(Some(&newest(5, 86_399, now)), 5, day, now));
        assert!(!snapshot_due(
            Some(&newest(5, 0, now)),
            5,
            TimeDelta::MAX,
            now
        ));
    }
}
