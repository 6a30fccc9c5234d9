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
    /// Run the bot service: Graph callbacks, plugins, admin API.
    Serve {
        /// The configuration file (see examples/callhost.toml).
        #[arg(long, short)]
        config: PathBuf,
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

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CALLHOST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
