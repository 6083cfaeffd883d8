//! Networks: a node is a (network, pubkey) pair, and each run, credits snapshot and event belongs
//! to one network. `pnodes.pubkey` is no longer unique on its own: `(network, pubkey)` is.
//!
//! `pnodes.gossip_last_seen` keeps the `last_seen_timestamp` of the report its gossip copies come
//! from: where seeds disagree, the freshest report wins (empty until a node is next reported).
//!
//! Rows already stored get the network the operator names with `PNODE_DEFAULT_NETWORK` (see
//! [`crate::with_default_network`]); on a database that holds nodes, `up` refuses to guess. SQLite
//! cannot drop a column's `UNIQUE`, so there `pnodes` is rebuilt (same rows, same ids; foreign
//! keys off on one connection, so its children keep their rows). `down` refuses while a pubkey is
//! on two networks.

use sea_orm_migration::{
    prelude::*,
    schema::*,
    sea_orm::{DatabaseBackend, DbConn, sqlx},
};

use crate::{add_columns, default_network, drop_columns, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

const NODE_INDEX: &str = "idx_pnodes_network_pubkey";
const RUN_INDEX: &str = "idx_ingestion_runs_network_started";
const CREDITS_INDEX: &str = "idx_pod_credits_snapshots_network_pubkey_observed";
/// The name PostgreSQL gave `pubkey`'s inline `UNIQUE`.
const PG_PUBKEY_UNIQUE: &str = "pnodes_pubkey_key";
/// How SQLite holds `pubkey` in the table's definition before, and after.
const SQLITE_UNIQUE_PUBKEY: &str = r#""pubkey" text NOT NULL UNIQUE"#;
const SQLITE_PUBKEY: &str = r#""pubkey" text NOT NULL"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let network = network_of_existing_rows(manager).await?;
        for table in [Table::Pnodes, Table::Runs, Table::Credits, Table::Events] {
            add_columns(
                manager,
                table,
                [text(Column::Network).default(network.clone()).to_owned()],
            )
            .await?;
        }
        add_columns(
            manager,
            Table::Pnodes,
            [big_integer_null(Column::GossipLastSeen)],
        )
        .await?;
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => {
                let drop = format!(r#"ALTER TABLE "pnodes" DROP CONSTRAINT "{PG_PUBKEY_UNIQUE}""#);
                manager.get_connection().execute_unprepared(&drop).await?;
            }
            _ => rebuild_sqlite_pnodes(manager, SQLITE_UNIQUE_PUBKEY, SQLITE_PUBKEY).await?,
        }
        let mut node = index(NODE_INDEX, Table::Pnodes, [Column::Network, Column::Pubkey]);
        manager.create_index(node.unique().to_owned()).await?;
        manager
            .create_index(index(
                RUN_INDEX,
                Table::Runs,
                [Column::Network, Column::StartedAt],
            ))
            .await?;
        manager
            .create_index(index(
                CREDITS_INDEX,
                Table::Credits,
                [Column::PodPubkey, Column::Network, Column::ObservedAt],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let shared = db
            .query_one_raw(
                db.get_database_backend().build(
                    Query::select()
                        .column(Column::Pubkey)
                        .from(Table::Pnodes)
                        .group_by_col(Column::Pubkey)
                        .and_having(Expr::col(Column::Id).count().gt(1))
                        .limit(1),
                ),
            )
            .await?;
        if shared.is_some() {
            return Err(DbErr::Migration(
                "a pubkey is on two networks: delete one network's nodes before going back to one network"
                    .into(),
            ));
        }
        for (name, table) in [
            (CREDITS_INDEX, Table::Credits),
            (RUN_INDEX, Table::Runs),
            (NODE_INDEX, Table::Pnodes),
        ] {
            manager
                .drop_index(Index::drop().name(name).table(table).to_owned())
                .await?;
        }
        for table in [Table::Events, Table::Credits, Table::Runs, Table::Pnodes] {
            drop_columns(manager, table, [Column::Network]).await?;
        }
        drop_columns(manager, Table::Pnodes, [Column::GossipLastSeen]).await?;
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => {
                let add = format!(
                    r#"ALTER TABLE "pnodes" ADD CONSTRAINT "{PG_PUBKEY_UNIQUE}" UNIQUE ("pubkey")"#
                );
                db.execute_unprepared(&add).await.map(|_| ())
            }
            _ => rebuild_sqlite_pnodes(manager, SQLITE_PUBKEY, SQLITE_UNIQUE_PUBKEY).await,
        }
    }
}

/// The network stored rows get: the one the operator named, else `mainnet` when there are no
/// nodes to put on it; with nodes and no name, an error saying what to set.
async fn network_of_existing_rows(manager: &SchemaManager<'_>) -> Result<String, DbErr> {
    if let Some(network) = default_network() {
        return Ok(network);
    }
    let db = manager.get_connection();
    let any_node = db
        .query_one_raw(
            db.get_database_backend().build(
                Query::select()
                    .column(Column::Id)
                    .from(Table::Pnodes)
                    .limit(1),
            ),
        )
        .await?;
    match any_node {
        None => Ok("mainnet".to_owned()),
        Some(_) => Err(DbErr::Migration(
            "this database holds nodes from before networks: set PNODE_DEFAULT_NETWORK to the network \
             they were collected from (e.g. mainnet or devnet) and start again"
                .into(),
        )),
    }
}

/// Rebuilds SQLite's `pnodes` with `from` replaced by `to` in its definition: same columns, rows
/// and ids, its indexes made again. On one connection with foreign keys off (so dropping the old
/// table cascades nothing into its children, which then reference the new one), in a transaction.
async fn rebuild_sqlite_pnodes(
    manager: &SchemaManager<'_>,
    from: &str,
    to: &str,
) -> Result<(), DbErr> {
    let SchemaManagerConnection::Connection(conn) = manager.get_connection() else {
        return Err(DbErr::Migration(
            "rebuilding pnodes needs a connection of its own, not a transaction".into(),
        ));
    };
    rebuild_on(conn, from, to)
        .await
        .map_err(|err| DbErr::Migration(format!("rebuilding pnodes: {err}")))
}

async fn rebuild_on(conn: &DbConn, from: &str, to: &str) -> Result<(), sqlx::Error> {
    let mut one = conn.get_sqlite_connection_pool().acquire().await?;
    let definition: String = sqlx::query_scalar(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'pnodes'",
    )
    .fetch_one(&mut *one)
    .await?;
    if !definition.contains(from) {
        return Err(sqlx::Error::Protocol(format!(
            "its definition has no {from}: {definition}"
        )));
    }
    let indexes: Vec<String> = sqlx::query_scalar(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'pnodes' AND sql IS NOT NULL",
    )
    .fetch_all(&mut *one)
    .await?;
    let columns: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_table_info('pnodes')")
        .fetch_all(&mut *one)
        .await?;
    let columns = columns
        .iter()
        .map(|name| format!(r#""{}""#, name.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(", ");
    let rebuilt = definition.replacen(from, to, 1).replacen(
        r#"CREATE TABLE "pnodes""#,
        r#"CREATE TABLE "pnodes_rebuilt""#,
        1,
    );
    sqlx::query("PRAGMA foreign_keys = OFF")
        .execute(&mut *one)
        .await?;
    let mut steps = vec![
        "BEGIN".to_owned(),
        rebuilt,
        format!(r#"INSERT INTO "pnodes_rebuilt" ({columns}) SELECT {columns} FROM "pnodes""#),
        r#"DROP TABLE "pnodes""#.to_owned(),
        r#"ALTER TABLE "pnodes_rebuilt" RENAME TO "pnodes""#.to_owned(),
    ];
    steps.extend(indexes);
    let mut result = Ok(());
    for step in &steps {
        // Our own schema's definitions, read back from sqlite_master and edited above.
        let step = sqlx::AssertSqlSafe(step.as_str());
        if let Err(err) = sqlx::query(step).execute(&mut *one).await {
            result = Err(err);
            break;
        }
    }
    let problems: Result<Vec<(String,)>, _> = match &result {
        Ok(()) => {
            sqlx::query_as("SELECT \"table\" FROM pragma_foreign_key_check")
                .fetch_all(&mut *one)
                .await
        }
        Err(_) => Ok(Vec::new()),
    };
    let end = match (&result, &problems) {
        (Ok(()), Ok(problems)) if problems.is_empty() => "COMMIT",
        _ => "ROLLBACK",
    };
    sqlx::query(end).execute(&mut *one).await?;
    sqlx::query("PRAGMA foreign_keys = ON")
        .execute(&mut *one)
        .await?;
    result?;
    match problems? {
        problems if problems.is_empty() => Ok(()),
        problems => Err(sqlx::Error::Protocol(format!(
            "foreign keys would break: {problems:?}"
        ))),
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Table {
    #[sea_orm(iden = "pnodes")]
    Pnodes,
    #[sea_orm(iden = "ingestion_runs")]
    Runs,
    #[sea_orm(iden = "pod_credits_snapshots")]
    Credits,
    #[sea_orm(iden = "events")]
    Events,
}

#[derive(DeriveIden, Clone, Copy)]
enum Column {
    Id,
    GossipLastSeen,
    Network,
    Pubkey,
    PodPubkey,
    StartedAt,
    ObservedAt,
}
