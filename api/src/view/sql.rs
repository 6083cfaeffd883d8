//! The SQL of the global view. Every per-node "newest" pick is made by the database through the
//! (pnode_id, time) indexes, one index probe per node, so a request costs the same whatever the
//! depth of history; nothing here reads a node's history into Rust.
//!
//! Why not window functions: `ROW_NUMBER() OVER (PARTITION BY pnode_id ...)` ranks every row of
//! history before filtering, which grows with history depth. Instead each node's newest rows are
//! found by walking its index from the newest end and stopping: a LATERAL subquery on PostgreSQL
//! (a correlated scalar subquery there lets the planner hash-join whole history tables, measured
//! at 10x slower for 500 nodes), a correlated scalar subquery on SQLite (which has no LATERAL).

use chrono::{DateTime, Utc};
use sea_orm::{DbBackend, Statement, Value};

use super::query::{Filter, Order, PnodeQuery, SortKey};

/// Text and bound values of one statement, with placeholders in the backend's style.
#[derive(Debug)]
pub struct Sql {
    backend: DbBackend,
    text: String,
    values: Vec<Value>,
}

impl Sql {
    fn new(backend: DbBackend) -> Self {
        Self {
            backend,
            text: String::with_capacity(1024),
            values: Vec::new(),
        }
    }

    fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    fn bind(&mut self, value: impl Into<Value>) -> &mut Self {
        self.values.push(value.into());
        match self.backend {
            DbBackend::Postgres => {
                let n = self.values.len();
                self.text.push_str(&format!("${n}"));
            }
            _ => self.text.push('?'),
        }
        self
    }

    fn bind_list(&mut self, ids: &[i64]) -> &mut Self {
        self.push("(");
        for (i, id) in ids.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.bind(*id);
        }
        self.push(")")
    }

    pub fn build(self) -> Statement {
        Statement::from_sql_and_values(self.backend, self.text, self.values)
    }
}

/// `pnodes p` joined to each node's newest observation `o` and to the stats sample `s` that
/// `latestStats` shows: of the node's two newest samples, the newer one with a throughput value,
/// else the newest (`bytes_per_second IS NULL` sorts false first).
fn push_from_latest(sql: &mut Sql) {
    sql.push(match sql.backend {
        DbBackend::Postgres => {
            "
FROM pnodes p
LEFT JOIN LATERAL (
    SELECT o.address, o.version, o.last_seen_timestamp, o.observed_at, o.is_public
    FROM pnode_gossip_observations o WHERE o.pnode_id = p.id
    ORDER BY o.observed_at DESC, o.id DESC LIMIT 1
) o ON TRUE
LEFT JOIN LATERAL (
    SELECT t.* FROM (
        SELECT * FROM pnode_stats_samples s2 WHERE s2.pnode_id = p.id
        ORDER BY s2.sampled_at DESC, s2.id DESC LIMIT 2
    ) t
    ORDER BY t.bytes_per_second IS NULL, t.sampled_at DESC, t.id DESC LIMIT 1
) s ON TRUE"
        }
        _ => {
            "
FROM pnodes p
LEFT JOIN pnode_gossip_observations o ON o.id = (
    SELECT o2.id FROM pnode_gossip_observations o2 WHERE o2.pnode_id = p.id
    ORDER BY o2.observed_at DESC, o2.id DESC LIMIT 1
)
LEFT JOIN pnode_stats_samples s ON s.id = (
    SELECT t.id FROM (
        SELECT s2.id, s2.sampled_at, s2.bytes_per_second FROM pnode_stats_samples s2
        WHERE s2.pnode_id = p.id ORDER BY s2.sampled_at DESC, s2.id DESC LIMIT 2
    ) t
    ORDER BY t.bytes_per_second IS NULL, t.sampled_at DESC, t.id DESC LIMIT 1
)"
        }
    });
}

/// The ids of every node the query selects, in its order (and with their versions when the
/// order is by version, which is compared in Rust: see `version::compare`). Paging is applied
/// by the caller, so the total comes with it.
pub fn ordered_ids(backend: DbBackend, query: &PnodeQuery) -> Statement {
    let mut sql = Sql::new(backend);
    let needs_latest = needs_latest(query);
    if needs_latest {
        sql.push("SELECT p.id, o.version");
        push_from_latest(&mut sql);
    } else {
        sql.push("SELECT p.id, NULL AS version FROM pnodes p");
    }
    sql.push("\nWHERE 1 = 1");
    push_filter(&mut sql, &query.filter);
    push_order(&mut sql, query.sort, query.order);
    sql.build()
}

/// Whether the filter or the order reads the newest observation or the chosen sample.
fn needs_latest(query: &PnodeQuery) -> bool {
    let f = &query.filter;
    f.public.is_some()
        || f.version.is_some()
        || f.text.is_some()
        || matches!(
            query.sort,
            SortKey::Version | SortKey::Uptime | SortKey::ActiveStreams | SortKey::LastSeen
        )
}

fn push_filter(sql: &mut Sql, filter: &Filter) {
    if let Some(seed) = &filter.seed {
        sql.push("\n  AND EXISTS (SELECT 1 FROM pnode_seed_sightings ss WHERE ss.pnode_id = p.id AND ss.seed_base_url = ")
            .bind(seed.clone())
            .push(")");
    }
    if let Some(reachable) = filter.reachable {
        sql.push("\n  AND p.reachable = ").bind(reachable);
    }
    if let Some(public) = filter.public {
        // A null is_public means private.
        sql.push("\n  AND COALESCE(o.is_public, ")
            .bind(false)
            .push(") = ")
            .bind(public);
    }
    if let Some(version) = &filter.version {
        sql.push("\n  AND o.version = ").bind(version.clone());
    }
    if let Some(text) = &filter.text {
        let pattern = format!("%{}%", escape_like(text));
        sql.push("\n  AND (LOWER(p.pubkey) LIKE ")
            .bind(pattern.clone())
            .push(" ESCAPE '\\' OR LOWER(o.address) LIKE ")
            .bind(pattern)
            .push(" ESCAPE '\\')");
    }
}

fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// Nulls last in both directions, then the id, so pages are stable.
fn push_order(sql: &mut Sql, sort: SortKey, order: Order) {
    let direction = match order {
        Order::Asc => "ASC",
        Order::Desc => "DESC",
    };
    let key = match sort {
        SortKey::Id | SortKey::Version => None,
        SortKey::Pubkey => Some("p.pubkey".to_owned()),
        SortKey::Uptime => Some("s.uptime_seconds".to_owned()),
        SortKey::ActiveStreams => Some("s.active_streams".to_owned()),
        SortKey::Credits => Some("p.latest_credits".to_owned()),
        SortKey::LastSeen => Some(last_seen_seconds(sql.backend)),
    };
    sql.push("\nORDER BY ");
    if let Some(key) = key {
        sql.push(&format!("({key}) IS NULL, {key} {direction}, "));
    }
    sql.push(&format!("p.id {direction}"));
}

/// `gossipLastSeen` in unix seconds: the reported `last_seen_timestamp`, else when it was observed.
fn last_seen_seconds(backend: DbBackend) -> String {
    let observed = match backend {
        DbBackend::Postgres => "CAST(EXTRACT(EPOCH FROM o.observed_at) AS BIGINT)",
        _ => "CAST(strftime('%s', o.observed_at) AS INTEGER)",
    };
    format!("COALESCE(NULLIF(o.last_seen_timestamp, 0), {observed})")
}

/// Every field of the view for the nodes `ids`, with their credits now and 24 hours before `now`.
pub fn details(backend: DbBackend, ids: &[i64], now: DateTime<Utc>) -> Statement {
    let mut sql = Sql::new(backend);
    sql.push(
        "SELECT p.id, p.pubkey, p.reachable, p.failure_count, p.last_stats_attempt_at,
    p.last_stats_success_at, p.latest_credits, p.credits_updated_at,
    o.address AS latest_address, o.version AS latest_version,
    o.last_seen_timestamp, o.observed_at, o.is_public,
    s.sampled_at, s.cpu_percent, s.ram_used_bytes, s.ram_total_bytes, s.uptime_seconds,
    s.packets_in_per_sec, s.packets_out_per_sec, s.total_bytes, s.active_streams,
    s.bytes_per_second,
    (SELECT cs.credits FROM pod_credits_snapshots cs WHERE cs.pod_pubkey = p.pubkey
        ORDER BY cs.observed_at DESC, cs.id DESC LIMIT 1) AS credits_now,
    (SELECT cs.credits FROM pod_credits_snapshots cs WHERE cs.pod_pubkey = p.pubkey
        AND cs.observed_at <= ",
    );
    sql.bind(now - chrono::Duration::hours(24));
    sql.push(" ORDER BY cs.observed_at DESC, cs.id DESC LIMIT 1) AS credits_day_ago");
    push_from_latest(&mut sql);
    sql.push("\nWHERE p.id IN ").bind_list(ids);
    sql.build()
}

/// Which seeds have reported each of `ids`, in one query for all of them.
pub fn sightings(backend: DbBackend, ids: &[i64]) -> Statement {
    let mut sql = Sql::new(backend);
    sql.push("SELECT pnode_id, seed_base_url FROM pnode_seed_sightings WHERE pnode_id IN ")
        .bind_list(ids)
        .push(" ORDER BY pnode_id, seed_base_url");
    sql.build()
}

/// The id of the node with this pubkey.
pub fn id_of(backend: DbBackend, pubkey: &str) -> Statement {
    let mut sql = Sql::new(backend);
    sql.push("SELECT p.id, NULL AS version FROM pnodes p WHERE p.pubkey = ")
        .bind(pubkey.to_owned());
    sql.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_follow_the_backend() {
        let query = PnodeQuery {
            filter: Filter {
                reachable: Some(true),
                version: Some("0.7.3".into()),
                ..Filter::default()
            },
            ..PnodeQuery::default()
        };
        let pg = ordered_ids(DbBackend::Postgres, &query).sql;
        let lite = ordered_ids(DbBackend::Sqlite, &query).sql;
        assert!(
            pg.contains("p.reachable = $1") && pg.contains("o.version = $2"),
            "{pg}"
        );
        assert!(
            lite.contains("p.reachable = ?") && lite.contains("o.version = ?"),
            "{lite}"
        );
    }

    #[test]
    fn like_wildcards_in_search_text_are_literal() {
        assert_eq!(escape_like(r"50%_a\b"), r"50\%\_a\\b");
    }

    #[test]
    fn a_plain_listing_touches_no_history() {
        let sql = ordered_ids(DbBackend::Sqlite, &PnodeQuery::default()).to_string();
        assert!(!sql.contains("pnode_gossip_observations"), "{sql}");
        assert!(!sql.contains("pnode_stats_samples"), "{sql}");
    }
}
