//! What each subcommand does.

use std::{sync::Arc, time::Instant};

use chrono::Utc;
use migration::{Migrator, MigratorTrait};
use tokio::sync::watch;

use crate::{
    bench,
    collector::{Collector, CycleReport},
    config::{Cli, Command, MigrateAction, Settings},
    db::Database,
    demo, generate,
    memory::{self, MemoryProbe},
    shutdown, soak,
    startup::Application,
    telemetry,
};

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    telemetry::init(&cli.settings.log)?;
    match cli.command {
        Command::Serve { no_collector } => {
            let mut settings = cli.settings;
            settings.run_collector = !no_collector;
            serve(&settings).await
        }
        Command::Demo => demo::run(cli.settings).await,
        Command::Bench(args) => bench::run(&cli.settings, args).await,
        Command::Soak(args) => soak(&args).await,
        Command::Generate(spec) => generate(&cli.settings, spec).await,
        Command::Collect { once } => collect(&cli.settings, once).await,
        Command::Migrate { action } => migrate(&cli.settings, action).await,
    }
}

async fn serve(settings: &Settings) -> anyhow::Result<()> {
    let stop = shutdown::listen()?;
    let app = Application::build(settings).await?;
    app.run_until_stopped(stop).await
}

/// Prints the soak's report to stdout; a failed verdict is the command's error, after the report.
async fn soak(args: &soak::SoakArgs) -> anyhow::Result<()> {
    let report = soak::run(args, &mut std::io::stdout()).await?;
    report
        .verdict(args.max_growth)
        .map_err(|reasons| anyhow::anyhow!("soak failed: {reasons}"))
}

async fn collect(settings: &Settings, once: bool) -> anyhow::Result<()> {
    if settings.seeds.as_slice().is_empty() {
        anyhow::bail!("no seeds configured: set PNODE_SEEDS (or --seed-urls)");
    }
    let db = Database::connect(&settings.database).await?;
    db.migrate().await?;
    let mut collector = Collector::new(
        db.clone(),
        &settings.seeds,
        settings.collector.clone(),
        &settings.database.url,
    );
    let (stop, stopped) = watch::channel(false);
    if once {
        match collector.run_cycle(&stopped).await? {
            Some(report) => print_report(&report),
            None => println!("another replica holds the collector lock: nothing collected"),
        }
    } else {
        let signal = shutdown::listen()?;
        let probe = MemoryProbe::from_settings(&settings.memory)?;
        let monitor = memory::spawn_monitor(Arc::new(probe), &settings.memory);
        let task = tokio::spawn(collector.run(stopped));
        let name = signal.await;
        tracing::info!(
            signal = name,
            "stopping the collector after its current cycle"
        );
        let _ = stop.send(true);
        task.await?;
        monitor.abort();
    }
    db.close().await?;
    Ok(())
}

fn print_report(report: &CycleReport) {
    let t = &report.totals;
    println!(
        "run {}: {} nodes observed, get-stats {} attempted ({} ok, {} failed), {} in backoff, {} pods skipped",
        report.run_id, t.observed, t.attempted, t.success, t.failed, t.backoff, report.skipped
    );
    for seed in &report.seeds {
        match &seed.error {
            Some(error) => println!("  {}: failed: {error}", seed.seed_base_url),
            None => println!("  {}: {} nodes", seed.seed_base_url, seed.counts.observed),
        }
    }
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
