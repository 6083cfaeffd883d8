//! What each subcommand does.

use std::time::Instant;

use chrono::Utc;
use migration::{Migrator, MigratorTrait};

use crate::{
    bench,
    config::{Cli, Command, MigrateAction, Settings},
    db::Database,
    generate, shutdown,
    startup::Application,
    telemetry,
};

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    telemetry::init(&cli.settings.log)?;
    match cli.command {
        Command::Serve => serve(&cli.settings).await,
        Command::Bench(args) => bench::run(&cli.settings, args).await,
        Command::Generate(spec) => generate(&cli.settings, spec).await,
        Command::Migrate { action } => migrate(&cli.settings, action).await,
    }
}

async fn serve(settings: &Settings) -> anyhow::Result<()> {
    let stop = shutdown::listen()?;
    let app = Application::build(settings).await?;
    app.run_until_stopped(stop).await
}

async fn generate(settings: &Settings, spec: generate::Spec) -> anyhow::Result<()> {
    let db = Database::connect(&settings.database).await?;
    db.migrate().await?;
    let started = Instant::now();
    let written = generate::generate(db.conn(), spec, Utc::now()).await?;
    println!(
        "generated {} nodes, {} observations, {} stats samples, {} sightings, {} credits snapshots in {:.1?}",
        written.nodes,
        written.observations,
        written.samples,
        written.sightings,
        written.credits,
        started.elapsed()
    );
    db.close().await?;
    Ok(())
}

async fn migrate(settings: &Settings, action: MigrateAction) -> anyhow::Result<()> {
    let db = Database::connect(&settings.database).await?;
    let conn = db.conn();
    match action {
        MigrateAction::Up => Migrator::up(conn, None).await?,
        MigrateAction::Down { steps } => Migrator::down(conn, Some(steps)).await?,
        MigrateAction::Fresh => Migrator::fresh(conn).await?,
        MigrateAction::Status => {
            for migration in Migrator::get_migration_with_status(conn).await? {
                println!("{:<8} {}", migration.status(), migration.name());
            }
        }
    }
    db.close().await?;
    Ok(())
}
