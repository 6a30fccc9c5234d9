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
    /// Validate a plugin component against the callhost:workflow world. The compiled
    /// component is kept in a compile cache, so checking it again is fast.
    Check {
        /// The plugin's .wasm file.
        plugin: PathBuf,
        /// Use the compile cache of this configuration (its `runtime.cache_dir`), the one
        /// `serve` loads plugins from.
        #[arg(long, short, conflicts_with_all = ["cache_dir", "no_cache"])]
        config: Option<PathBuf>,
        /// The compile cache directory. Default: $XDG_CACHE_HOME/callhost/compile, else
        /// ~/.cache/callhost/compile.
        #[arg(long, env = "CALLHOST_CACHE_DIR", conflicts_with = "no_cache")]
        cache_dir: Option<PathBuf>,
        /// Compile without the compile cache.
        #[arg(long)]
        no_cache: bool,
    },
    /// Build the C plugin in DIR (made by `callhost new --lang c`) into DIR/<name of DIR>.wasm,
    /// with clang-19 and wasi-libc; bindings and the component are made by callhost itself.
    #[command(name = "build-c")]
    BuildC {
        /// The plugin's directory.
        #[arg(default_value = ".")]
        dir: PathBuf,
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
        /// Run only these sections (repeat or separate with commas); all when absent.
        #[arg(long, value_enum, value_delimiter = ',')]
        only: Vec<callhost_bench::Section>,
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
        lang: callhost_cli::new::Language,
        /// The plugin's name: lowercase letters, digits and dashes (`front-desk`).
        name: String,
        /// Where to make the plugin's directory.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
}

/// The event path allocates many small, short-lived objects on every core (JSON values, HTTP
/// headers, store data); mimalloc's per-thread heaps serve them faster than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    quiet_library_backtraces();
    let cli = Cli::parse();
    let _log_writer = init_tracing();
    let result = match cli.command {
        Command::Check {
            plugin,
            config,
            cache_dir,
            no_cache,
        } => check(plugin, config, cache_dir, no_cache),
        Command::BuildC { dir } => {
            callhost_cli::build_c::build_c(&dir).map(|wasm| println!("{}", wasm.display()))
        }
        Command::Serve { config } => serve(config),
        Command::Simulate {
            plugin,
            config,
            scenario,
            json,
        } => callhost_cli::simulate::simulate(&plugin, config.as_deref(), &scenario, json),
        Command::Replay {
            plugin,
            config,
            notifications,
            json,
        } => callhost_cli::replay::replay_file(&plugin, config.as_deref(), &notifications, json),
        Command::Demo { plugins } => callhost_cli::demo::demo(&plugins),
        Command::New { lang, name, dir } => callhost_cli::new::new(lang, &name, &dir)
            .map(|plugin| println!("{plugin}"))
            .map_err(anyhow::Error::from),
        Command::Bench {
            quick,
            plugins,
            json,
            markdown,
            only,
        } => bench(quick, plugins, json, markdown, only),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn check(
    plugin: PathBuf,
    config: Option<PathBuf>,
    cache_dir: Option<PathBuf>,
    no_cache: bool,
) -> anyhow::Result<()> {
    use callhost_cli::check::CheckCache;
    let cache = match (config, cache_dir, no_cache) {
        (_, _, true) => CheckCache::Off,
        (Some(config), _, _) => {
            CheckCache::Dir(callhost::config::Config::load(&config)?.cache_dir())
        }
        (None, Some(dir), false) => CheckCache::Dir(dir),
        (None, None, false) => CheckCache::Default,
    };
    let report = callhost_cli::check::check_with(&plugin, &cache)?;
    println!("{report}");
    Ok(())
}

fn serve(config: PathBuf) -> anyhow::Result<()> {
    // Validated before anything starts: no port is bound for a bad configuration.
    let config = callhost::config::Config::load(&config)?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(callhost::app::App::run(
        config,
        callhost::app::shutdown_signal(),
    ))
}

fn bench(
    quick: bool,
    plugins_dir: PathBuf,
    json: Option<PathBuf>,
    markdown: Option<PathBuf>,
    only: Vec<callhost_bench::Section>,
) -> anyhow::Result<()> {
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let runtime = tokio::runtime::Runtime::new()?;
    let report = runtime.block_on(callhost_bench::run(callhost_bench::BenchOptions {
        plugins_dir,
        quick,
        command,
        sections: only,
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

/// `RUST_BACKTRACE=1` asks for panic backtraces, but it also makes every library error capture
/// one, and wasmtime builds an error each time a store is dropped: a backtrace per event.
/// Unless `RUST_LIB_BACKTRACE` says otherwise, errors capture none; panics keep theirs.
fn quiet_library_backtraces() {
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        // SAFETY: first thing in `main`, before any other thread exists that could read the
        // environment concurrently.
        #[allow(unsafe_code)]
        unsafe {
            std::env::set_var("RUST_LIB_BACKTRACE", "0");
        }
    }
}

/// Log lines are formatted where they happen and written to stderr by a dedicated thread, so a
/// slow terminal or pipe never stalls an event. Nothing is dropped: when the writer falls
/// behind, loggers wait. The guard flushes what is queued when `main` returns.
fn init_tracing() -> tracing_appender::non_blocking::WorkerGuard {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CALLHOST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("callhost-log")
        .finish(std::io::stderr());
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(callhost_cli::log_line::OneLine::new(writer, ansi))
        .with_ansi(ansi)
        .init();
    guard
}
