//! SeaORM migrations for the pnode-api schema. The same migrations run on SQLite and PostgreSQL,
//! and every one of them can be rolled back.

pub use sea_orm_migration::prelude::*;

mod m20261127_000001_create_pnodes;
mod m20261127_000002_create_pod_credits;
mod m20261127_000003_create_ingestion_runs;
mod m20261128_000004_create_data_version;
mod m20261128_000005_add_network_figures;
mod m20261128_000006_add_node_newest_figures;
mod m20261128_000007_add_node_scores;
mod m20261128_000008_create_events;
mod m20261203_000009_strip_url_credentials;
mod m20261203_000010_add_networks;

/// Every migration of the schema, oldest first.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261127_000001_create_pnodes::Migration),
            Box::new(m20261127_000002_create_pod_credits::Migration),
            Box::new(m20261127_000003_create_ingestion_runs::Migration),
            Box::new(m20261128_000004_create_data_version::Migration),
            Box::new(m20261128_000005_add_network_figures::Migration),
            Box::new(m20261128_000006_add_node_newest_figures::Migration),
            Box::new(m20261128_000007_add_node_scores::Migration),
            Box::new(m20261128_000008_create_events::Migration),
            Box::new(m20261203_000009_strip_url_credentials::Migration),
            Box::new(m20261203_000010_add_networks::Migration),
        ]
    }
}

tokio::task_local! {
    /// The network the operator says rows from before networks belong to.
    static DEFAULT_NETWORK: Option<String>;
}

/// Runs `migrating` (e.g. `Migrator::up`) with rows stored before networks put on `network` (the
/// operator's `PNODE_DEFAULT_NETWORK`, when set). Without it, a database that already holds
/// nodes is not migrated to networks: the network cannot be guessed.
pub async fn with_default_network<F: Future>(network: Option<String>, migrating: F) -> F::Output {
    DEFAULT_NETWORK.scope(network, migrating).await
}

/// The network of [`with_default_network`], if one was given.
fn default_network() -> Option<String> {
    DEFAULT_NETWORK.try_with(Clone::clone).ok().flatten()
}

/// Builds a `CREATE INDEX` for `table` over `columns`, named so that names stay unique per database.
fn index<T, C>(name: &str, table: T, columns: impl IntoIterator<Item = C>) -> IndexCreateStatement
where
    T: IntoIden,
    C: IntoIndexColumn,
{
    let mut statement = Index::create();
    statement.name(name).table(table);
    for column in columns {
        statement.col(column);
    }
    statement.to_owned()
}

/// Adds `columns` to `table`, one statement each: SQLite alters one thing at a time.
async fn add_columns<T: IntoIden + Copy>(
    manager: &SchemaManager<'_>,
    table: T,
    columns: impl IntoIterator<Item = ColumnDef>,
) -> Result<(), DbErr> {
    for mut column in columns {
        manager
            .alter_table(
                Table::alter()
                    .table(table)
                    .add_column(&mut column)
                    .to_owned(),
            )
            .await?;
    }
    Ok(())
}

/// Drops `columns` from `table`, one statement each.
async fn drop_columns<T: IntoIden + Copy, C: IntoIden>(
    manager: &SchemaManager<'_>,
    table: T,
    columns: impl IntoIterator<Item = C>,
) -> Result<(), DbErr> {
    for column in columns {
        manager
            .alter_table(Table::alter().table(table).drop_column(column).to_owned())
            .await?;
    }
    Ok(())
}

/// A foreign key from `(table, column)` to its parent, deleted and updated with the parent row.
fn cascade_to<F, FC, T, TC>(from: (F, FC), to: (T, TC)) -> ForeignKeyCreateStatement
where
    F: IntoIden,
    FC: IntoIden,
    T: IntoIden,
    TC: IntoIden,
{
    ForeignKey::create()
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(ForeignKeyAction::Cascade)
        .on_update(ForeignKeyAction::Cascade)
        .to_owned()
}
