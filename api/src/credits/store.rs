//! One fetched answer, stored: a snapshot per pod whose value changed or whose newest snapshot is
//! old enough, and each known node's current value. One transaction; every statement covers up
//! to [`ROWS_PER_STATEMENT`] pods, so the cost in round trips grows with pods / 1000.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, TimeDelta, Utc};
use entity::{pnode, pod_credits_snapshot as snapshot};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, FromQueryResult, QueryFilter,
    QuerySelect, Statement, TransactionSession, TransactionTrait, Value,
    sea_query::{CaseStatement, Expr},
};

use super::{Credit, CreditsError, CreditsPolicy, CreditsReport};

/// Rows (or pubkeys) per statement: at most 3 bound values each, well under SQLite's 32,766.
const ROWS_PER_STATEMENT: usize = 1000;

/// A pod's newest snapshot.
#[derive(Debug, FromQueryResult)]
struct Newest {
    pod_pubkey: String,
    credits: i64,
    observed_at: DateTime<Utc>,
}

/// Stores one fetched answer at `now`, in one transaction: a `pod_credits_snapshots` row
/// (`source_url` = `url`) per pod whose newest snapshot is at least `policy.snapshot_every` old
/// or holds another value, and `pnodes.latest_credits` / `credits_updated_at` for every known
/// node (matched by pubkey) whose value changed or was null. Pods not in `pnodes` still get
/// snapshots: credits may arrive before gossip. A pubkey listed twice keeps its first entry.
#[tracing::instrument(name = "store credits", skip(db, credits, policy), fields(pods = credits.len()))]
pub async fn store<C>(
    db: &C,
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
    let newest = newest(&txn, &pubkeys).await?;
    let due: Vec<_> = credits
        .iter()
        .filter(|c| snapshot_due(newest.get(&c.pubkey), c.credits, every, now))
        .map(|c| snapshot::ActiveModel {
            pod_pubkey: Set(c.pubkey.clone()),
            credits: Set(c.credits),
            observed_at: Set(now),
            source_url: Set(url.to_owned()),
            ..Default::default()
        })
        .collect();
    for chunk in due.chunks(ROWS_PER_STATEMENT) {
        snapshot::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&txn)
            .await?;
    }
    report.snapshots = due.len();

    let changed = changed_nodes(&txn, &credits).await?;
    for chunk in changed.chunks(ROWS_PER_STATEMENT) {
        report.nodes_updated += set_latest(&txn, chunk, now).await?;
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
    pubkeys: &[&str],
) -> Result<HashMap<String, Newest>, DbErr> {
    let mut newest = HashMap::with_capacity(pubkeys.len());
    for chunk in pubkeys.chunks(ROWS_PER_STATEMENT) {
        let statement = newest_snapshots(db.get_database_backend(), chunk);
        for row in Newest::find_by_statement(statement).all(db).await? {
            newest.insert(row.pod_pubkey.clone(), row);
        }
    }
    Ok(newest)
}

/// One index probe per pubkey, from the newest end of (pod_pubkey, observed_at), as in the
/// view's SQL: a LATERAL subquery on PostgreSQL (a correlated scalar subquery there lets the
/// planner hash-join the whole history), a correlated scalar subquery on SQLite (no LATERAL).
/// Both are driven by the list of pubkeys, so no pod's older history is read.
fn newest_snapshots(backend: DbBackend, pubkeys: &[&str]) -> Statement {
    let keys = pubkeys
        .iter()
        .enumerate()
        .map(|(i, _)| match backend {
            DbBackend::Postgres => format!("(${})", i + 1),
            _ => "(?)".to_owned(),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let sql = match backend {
        DbBackend::Postgres => format!(
            "SELECT k.pubkey AS pod_pubkey, l.credits, l.observed_at
             FROM (VALUES {keys}) AS k(pubkey) CROSS JOIN LATERAL (
                 SELECT c.credits, c.observed_at FROM pod_credits_snapshots c
                 WHERE c.pod_pubkey = k.pubkey
                 ORDER BY c.observed_at DESC, c.id DESC LIMIT 1) l"
        ),
        _ => format!(
            "WITH k(pubkey) AS (VALUES {keys})
             SELECT c.pod_pubkey, c.credits, c.observed_at
             FROM k JOIN pod_credits_snapshots c ON c.id = (
                 SELECT c2.id FROM pod_credits_snapshots c2 WHERE c2.pod_pubkey = k.pubkey
                 ORDER BY c2.observed_at DESC, c2.id DESC LIMIT 1)"
        ),
    };
    let values = pubkeys.iter().map(|&key| Value::from(key.to_owned()));
    Statement::from_sql_and_values(backend, sql, values)
}

/// The known nodes among `credits` whose `latest_credits` differs (or is null): (id, credits).
async fn changed_nodes(
    db: &impl ConnectionTrait,
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
            pod_pubkey: "pod".into(),
            credits,
            observed_at: now - TimeDelta::seconds(seconds_ago),
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
