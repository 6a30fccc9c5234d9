//! The `callhost` command: parses the command line, starts logging, runs a subcommand.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "callhost",
    version,
    about = "A Microsoft Teams calling bot whose call logic runs in sandboxed WebAssembly plugins"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate a plugin component against the callhost:workflow world.
    Check {
        /// The plugin's .wasm file.
        plugin: PathBuf,
    },
    /// Measure event costs, end-to-end throughput and latency, memory and start-up, and write
    /// a report.
    Bench {
        /// A short smoke run instead of the full measurement.
        #[arg(long)]
        quick: bool,
        /// Where the built plugins are.
        #[arg(long, default_value = "target/plugins")]
        plugins: PathBuf,
        /// Write the report as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Write the report as Markdown here.
        #[arg(long)]
        markdown: Option<PathBuf>,
    },
    /// Run the bot service: Graph callbacks, plugins, admin API.
    Serve {
        /// The configuration file (see examples/callhost.toml).
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Run a scenario (examples/scenarios/) against a plugin on a simulated Graph.
    Simulate {
        /// The plugin's .wasm file; it takes every call.
        #[arg(long)]
        plugin: PathBuf,
        /// A configuration as `serve` reads it, for the plugin's config values, limits, policy
        /// and its route's fallback.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// The scenario file.
        #[arg(long)]
        scenario: PathBuf,
        /// Print one JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Feed recorded notifications through a plugin and print the Graph requests it made.
    Replay {
        /// The plugin's .wasm file.
        #[arg(long)]
        plugin: PathBuf,
        /// A configuration as `serve` reads it, for the plugin's config values and limits.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// A JSON array of commsNotifications documents (GET /admin/calls/{id}/notifications).
        #[arg(long)]
        notifications: PathBuf,
        /// Print one JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Run sample calls against the example plugins on a simulated Graph.
    Demo {
        /// Where the built plugins are.
        #[arg(long, default_value = "target/plugins")]
        plugins: PathBuf,
    },
    /// Make a new workflow plugin from a template: it builds, passes `check` and answers calls.
    New {
        /// The language: rust, python, js or c.
        #[arg(long)]
        lang: callhost::cli::new::Language,
        /// The plugin's name: lowercase letters, digits and dashes (`front-desk`).
        name: String,
        /// Where to make the plugin's directory.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let result = match cli.command {
        Command::Check { plugin } => callhost::cli::check::check(&plugin)
            .map(|report| println!("{report}"))
            .map_err(anyhow::Error::from),
        Command::Serve { config } => serve(config),
        Command::Simulate {
            plugin,
            config,
            scenario,
            json,
        } => callhost::cli::simulate::simulate(&plugin, config.as_deref(), &scenario, json),
        Command::Replay {
            plugin,
            config,
            notifications,
            json,
        } => callhost::cli::replay::replay_file(&plugin, config.as_deref(), &notifications, json),
        Command::Demo { plugins } => callhost::cli::demo::demo(&plugins),
        Command::New { lang, name, dir } => callhost::cli::new::new(lang, &name, &dir)
            .map(|plugin| println!("{plugin}"))
            .map_err(anyhow::Error::from),
        Command::Bench {
            quick,
            plugins,
            json,
            markdown,
        } => bench(quick, plugins, json, markdown),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn serve(config: PathBuf) -> anyhow::Result<()> {
    // Validated before anything starts: no port is bound for a bad configuration.
    let config = callhost::config::Config::load(&config)?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let app = callhost::app::App::build(config).await?;
        app.serve(callhost::app::shutdown_signal()).await
    })
}

fn bench(
    quick: bool,
    plugins_dir: PathBuf,
    json: Option<PathBuf>,
    markdown: Option<PathBuf>,
) -> anyhow::Result<()> {
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let runtime = tokio::runtime::Runtime::new()?;
    let report = runtime.block_on(callhost::bench::run(callhost::bench::BenchOptions {
        plugins_dir,
        quick,
        command,
    }))?;
    let text = report.markdown();
    println!("{text}");
    if let Some(path) = markdown {
        std::fs::write(&path, &text)?;
    }
    if let Some(path) = json {
        std::fs::write(&path, serde_json::to_vec_pretty(&report)?)?;
    }
    Ok(())
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CALLHOST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
