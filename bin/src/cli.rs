//! The command line: its grammar (`Cli`, `Command`) and what each command does. Settings shared by
//! every command are in `pnode_api::app::config`.

use std::{sync::Arc, time::Instant};

use chrono::Utc;
use clap::{Parser, Subcommand};
use migration::{Migrator, MigratorTrait};
use tokio::sync::watch;

use pnode_api::{
    app::{
        collecting::{Collecting, Deliveries},
        config::Settings,
        shutdown,
        startup::Application,
        telemetry,
    },
    collector::CycleReport,
    db::Database,
    domain::network::Network,
    observe::memory::{self, MemoryProbe},
};
use pnode_tools::{bench, demo, generate, soak};

/// Collects the Xandeum pNode network and serves it as a JSON API.
#[derive(Debug, Parser)]
#[command(name = "pnode-api", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub settings: Settings,
    #[command(subcommand)]
    pub command: Command,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending migrations, then serve the API (and collect, when seeds are set) until SIGINT
    /// or SIGTERM.
    Serve {
        /// Serve the API only; another process runs `pnode-api collect`.
        #[arg(long)]
        no_collector: bool,
    },
    /// Start a simulated pNode network on loopback, collect it every 5 s and serve the API.
    Demo,
    /// Measure the view: generate a network if the database is empty, start the server, drive it.
    Bench(bench::BenchArgs),
    /// Drive a running server (--url) with GETs while sampling its memory; fail on errors or RSS
    /// growth after warm-up. Needs no database.
    Soak(soak::SoakArgs),
    /// Fill the database with a deterministic synthetic network (for tests and benchmarks).
    Generate(generate::Spec),
    /// Run collection cycles (with --once: one cycle, then exit) without serving the API.
    Collect {
        /// Run a single cycle, print what it did and exit.
        #[arg(long)]
        once: bool,
    },
    /// Manage the database schema.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
}

/// A schema operation.
#[derive(Debug, Subcommand)]
pub enum MigrateAction {
    /// Apply every pending migration.
    Up,
    /// Roll back the newest migrations.
    Down {
        /// How many migrations to roll back.
        #[arg(long, default_value_t = 1)]
        steps: u32,
    },
    /// List every migration and whether it is applied.
    Status,
    /// Drop every table, then apply every migration: all data is lost.
    Fresh,
}

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
    const NO_SEEDS: &str = "no seeds configured: set PNODE_SEEDS (or --seed-urls)";
    if settings.seeds.as_slice().is_empty() {
        anyhow::bail!(NO_SEEDS);
    }
    let db = Database::connect_migrated(&settings.database).await?;
    let deliveries = if once {
        Deliveries::Skip
    } else {
        Deliveries::Send
    };
    let Some(mut collecting) = Collecting::wire(settings, &db, deliveries)? else {
        anyhow::bail!(NO_SEEDS);
    };
    if once {
        let (_stop, stopped) = watch::channel(false);
        for collector in collecting.collectors() {
            let network = collector.network().clone();
            match collector.run_cycle(&stopped).await? {
                Some(report) => print_report(&network, &report),
                None => println!(
                    "{network}: another replica holds the network's collector lock: nothing collected"
                ),
            }
        }
    } else {
        let signal = shutdown::listen()?;
        let probe = MemoryProbe::from_settings(&settings.memory)?;
        let monitor = memory::spawn_monitor(Arc::new(probe), &settings.memory);
        let running = collecting.spawn();
        let name = signal.await;
        tracing::info!(
            signal = name,
            "stopping the collector after its current cycle"
        );
        running.stop(settings.shutdown_timeout).await;
        monitor.abort();
    }
    db.close().await?;
    Ok(())
}

fn print_report(network: &Network, report: &CycleReport) {
    let t = &report.totals;
    println!(
        "{network} run {}: {} nodes observed, get-stats {} attempted ({} ok, {} failed), {} in backoff, {} pods skipped",
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
    let db = Database::connect_migrated(&settings.database).await?;
    let started = Instant::now();
    let written = generate::generate(db.conn(), spec, Utc::now()).await?;
    println!(
        "generated {} nodes, {} observations, {} stats samples, {} sightings, {} credits snapshots, {} collection runs in {:.1?}",
        written.nodes,
        written.observations,
        written.samples,
        written.sightings,
        written.credits,
        written.runs,
        started.elapsed()
    );
    db.close().await?;
    Ok(())
}

async fn migrate(settings: &Settings, action: MigrateAction) -> anyhow::Result<()> {
    let db = Database::connect(&settings.database).await?;
    let conn = db.conn();
    match action {
        MigrateAction::Up => {
            let network = settings.database.default_network.as_ref();
            let up = Migrator::up(conn, None);
            migration::with_default_network(network.map(ToString::to_string), up).await?;
        }
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn a_bad_bind_address_is_rejected_with_the_flag_named() {
        let err = Cli::try_parse_from(["pnode-api", "--bind", "nowhere", "serve"])
            .expect_err("an address without a port must be refused");
        assert!(err.to_string().contains("--bind"), "{err}");
    }

    #[test]
    fn a_zero_memory_log_interval_parses_as_off() {
        let cli = Cli::try_parse_from(["pnode-api", "serve", "--memory-log-interval", "0"])
            .expect("0 is a duration");
        assert_eq!(cli.settings.memory.log_interval, Duration::ZERO);
    }

    #[test]
    fn soak_takes_its_url_apart_from_the_database_url() {
        // Both flags were once the argument id `url`, and parsing panicked on the type mismatch.
        let cli = Cli::try_parse_from(["pnode-api", "soak", "--url", "http://127.0.0.1:8080"])
            .expect("a soak needs only its URL");
        let Command::Soak(args) = cli.command else {
            panic!("not a soak: {:?}", cli.command);
        };
        assert_eq!(args.url.to_string(), "http://127.0.0.1:8080");
        assert_eq!(cli.settings.database.url(), "sqlite://pnodes.db?mode=rwc");
    }

    #[test]
    fn bench_flags_and_global_settings_of_the_same_name_both_parse() {
        // `--events` (bench) and the events retention were once the argument id `events`.
        let cli = Cli::try_parse_from([
            "pnode-api",
            "bench",
            "--group",
            "events",
            "--events",
            "5",
            "--retain-events",
            "2h",
            "--webhook-timeout",
            "3s",
        ])
        .expect("both parse");
        let Command::Bench(args) = cli.command else {
            panic!("not a bench: {:?}", cli.command);
        };
        assert_eq!(args.events.events, 5);
        assert_eq!(
            cli.settings.collector.retention.events,
            Duration::from_secs(7200)
        );
        assert_eq!(cli.settings.webhooks.timeout, Duration::from_secs(3));
    }

    #[test]
    fn flags_set_the_pool_size() {
        let set = Cli::try_parse_from(["pnode-api", "serve", "--db-max-connections", "7"])
            .expect("a pool size");
        assert_eq!(set.settings.database.max_connections(), 7);
    }

    #[test]
    fn durations_read_as_humans_write_them() {
        let cli = Cli::try_parse_from(["pnode-api", "serve", "--shutdown-timeout", "1m 30s"])
            .expect("a humantime duration parses");
        assert_eq!(cli.settings.shutdown_timeout, Duration::from_secs(90));
    }
}
