//! The whole benchmark: every section in one run, so the numbers compare.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use super::Report;
use super::cpu::ServiceRuntime;
use super::e2e::{FakeGraph, LoadResult, call_script, drive, start_bare_handler};
use super::events::{load_example, plugin_event_costs};
use super::parts;
use callhost::app::App;
use callhost::config::{Config, PluginConfig, RouteConfig};
use callhost::graph::token::ClientSecret;
use callhost::runtime::{Runtime, RuntimeSettings};
use callhost::storage::{StorageConfig, StorageEngine, Store};
use callhost_simulator::IssueClaims;
use callhost_simulator::{SIM_TENANT, Simulator, SimulatorSettings};
use callhost_store::{SqliteStore, StoreStats, Synchronous};

pub(crate) const BOT: &str = "bench-bot-0000-0000-0000-000000000000";

/// The IVR's silence timer in the bench. The end-to-end callers' prompt completions carry no
/// client context, so only the timer section's calls set it.
pub(super) const NO_INPUT_MS: u64 = 250;

/// How long and how hard to run.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub plugins_dir: PathBuf,
    /// Fewer iterations and shorter load phases (a smoke run).
    pub quick: bool,
    pub command: String,
    /// The sections to run; all when empty.
    pub sections: Vec<Section>,
}

/// A part of the benchmark that can be run on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Section {
    /// Fresh instance + `on-event`, per workflow and language.
    Events,
    /// JWT verification, parsing, request building and sending on their own.
    Parts,
    /// Throughput and latency under load against the bare-axum ceiling.
    EndToEnd,
    /// RSS with many calls in progress.
    Memory,
    /// Start-up with an empty and a warm compile cache.
    Startup,
    /// File change → new version serving, with an empty and a warm compile cache.
    Reload,
    /// Journal appends on SQLite against memory: throughput, latency, appends per commit.
    Store,
    /// A new service on the data directory of one with calls in progress, until ready.
    Restart,
    /// How late timers fire, idle and under load.
    Timers,
    /// What one outbound HTTP request from a plugin costs.
    Http,
    /// One, two and three instances on one PostgreSQL database (`CALLHOST_TEST_POSTGRES_URL`,
    /// e.g. from `cargo xtask postgres`): CPU and round trips per notification.
    Cluster,
}

impl BenchOptions {
    fn runs(&self, section: Section) -> bool {
        self.sections.is_empty() || self.sections.contains(&section)
    }

    /// A built plugin's file.
    pub(super) fn plugin(&self, name: &str) -> PathBuf {
        self.plugins_dir.join(format!("{name}.wasm"))
    }

    /// The IVR workflow the service routes calls to.
    pub(super) fn ivr(&self) -> PathBuf {
        self.plugin("ivr-menu")
    }

    /// The compile cache kept between runs (beside the built plugins).
    pub(super) fn shared_cache(&self) -> PathBuf {
        self.plugins_dir.join("../callhost-cache")
    }
}

/// The workflows measured per event, when built.
const WORKFLOWS: &[(&str, &str)] = &[
    ("ivr-menu", "Rust"),
    ("answer-and-greet", "Rust"),
    ("ivr-menu-c", "C"),
    ("ivr-menu-js", "JavaScript"),
    ("ivr-menu-python", "Python"),
];

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

pub async fn run(mut options: BenchOptions) -> anyhow::Result<Report> {
    options.plugins_dir = std::fs::canonicalize(&options.plugins_dir).map_err(|e| {
        anyhow::anyhow!(
            "plugins directory {}: {e}; build the plugins with `cargo xtask build-plugins`",
            options.plugins_dir.display()
        )
    })?;
    let mut report = Report {
        machine: format!(
            "{} cores, {:.0} GiB",
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            total_memory_gib()
        ),
        date: chrono_date(),
        command: options.command.clone(),
        rows: Vec::new(),
    };
    let iterations = if options.quick { 300 } else { 3000 };
    if options.runs(Section::Events) {
        per_event(&options, &mut report, iterations).await?;
    }
    if options.runs(Section::Parts) {
        let ivr = options.ivr();
        let iterations = if options.quick { 200 } else { 2000 };
        parts::measure(
            &mut report,
            iterations,
            ivr.exists().then_some(ivr.as_path()),
        )
        .await?;
    }
    if options.runs(Section::EndToEnd) {
        end_to_end(&options, &mut report).await?;
    }
    if options.runs(Section::Memory) {
        memory(&options, &mut report).await?;
    }
    if options.runs(Section::Startup) {
        startup(&options, &mut report).await?;
    }
    if options.runs(Section::Reload) {
        super::reload::measure(&options, &mut report).await?;
    }
    if options.runs(Section::Store) {
        super::store::measure(&options, &mut report).await?;
    }
    if options.runs(Section::Restart) {
        super::restart::measure(&options, &mut report).await?;
    }
    if options.runs(Section::Timers) {
        super::timers::measure(&options, &mut report).await?;
    }
    if options.runs(Section::Http) {
        super::http::measure(&options, &mut report).await?;
    }
    if options.runs(Section::Cluster) {
        super::cluster::measure(&options, &mut report).await?;
    }
    Ok(report)
}

async fn per_event(
    options: &BenchOptions,
    report: &mut Report,
    iterations: usize,
) -> anyhow::Result<()> {
    let runtime = Runtime::new(RuntimeSettings::default())?;
    for (name, language) in WORKFLOWS {
        let path = options.plugins_dir.join(format!("{name}.wasm"));
        if !path.exists() {
            report.add(
                "Per event: fresh instance + on-event",
                name,
                vec![],
                Some(format!("not built ({})", path.display())),
            );
            continue;
        }
        let started = Instant::now();
        let plugin = load_example(&runtime, name, &path)?;
        let compile = started.elapsed();
        let n = if *language == "Python" || *language == "JavaScript" {
            iterations / 10
        } else {
            iterations
        };
        let (incoming, established) = plugin_event_costs(&runtime, &plugin, n).await?;
        report.add(
            "Per event: fresh instance + on-event",
            &format!("{name} ({language})"),
            vec![
                ("incoming p50 µs", json!(incoming.p50_us)),
                ("incoming p99 µs", json!(incoming.p99_us)),
                ("established p50 µs", json!(established.p50_us)),
                ("established p99 µs", json!(established.p99_us)),
                ("compile ms", json!(compile.as_secs_f64() * 1e3)),
                ("size KiB", json!(std::fs::metadata(&path)?.len() / 1024)),
            ],
            Some(format!("{n} events of each kind")),
        );
    }
    Ok(())
}

/// Where a service under test keeps its calls.
#[derive(Clone)]
pub(super) enum Storage {
    /// The in-memory engine.
    Memory,
    /// SQLite opened by the bench, so that its statistics can be read while it serves.
    Sqlite(SqliteStore, Synchronous),
    /// SQLite in this data directory, opened by the service as `serve` opens it.
    DataDir(PathBuf),
    /// PostgreSQL, opened by the bench (on the service's runtime).
    Postgres(Box<callhost_store::PostgresStore>),
}

impl Storage {
    pub(super) fn name(&self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Sqlite(_, Synchronous::Full) | Self::DataDir(_) => "SQLite, full sync",
            Self::Sqlite(_, Synchronous::Normal) => "SQLite, normal sync",
            Self::Postgres(_) => "PostgreSQL",
        }
    }
}

/// A service on loopback routing every call to the IVR in `plugin` (a watched file), with the
/// simulator for keys and a fake Graph, running on `service`'s threads.
pub(super) async fn start_service(
    plugin: &Path,
    sim: &Simulator,
    graph_addr: std::net::SocketAddr,
    cache: &Path,
    storage: Storage,
    service: &tokio::runtime::Handle,
) -> anyhow::Result<(String, App)> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let mut config = Config::new(addr, format!("http://{addr}"), BOT);
    config.bot.default_tenant = Some(SIM_TENANT.to_string());
    config.graph.base_url = format!("http://{graph_addr}/v1.0");
    config.graph.token_url = format!("http://{graph_addr}/{{tenant}}/oauth2/v2.0/token");
    config.graph.openid_config_url = sim.openid_url();
    config.runtime.cache_dir = Some(cache.to_path_buf());
    config.admin.enabled = false;
    config.routes = vec![RouteConfig::to("ivr")];
    let given: Option<Arc<dyn Store>> = match storage {
        Storage::Memory => None,
        Storage::Sqlite(store, _) => Some(Arc::new(store)),
        Storage::Postgres(store) => Some(Arc::new(*store)),
        Storage::DataDir(dir) => {
            config.storage = StorageConfig {
                engine: StorageEngine::Sqlite,
                data_dir: Some(dir),
                ..StorageConfig::default()
            };
            None
        }
    };
    let mut ivr = PluginConfig::new(plugin);
    ivr.config = [
        ("menu", "https://media.example.com/menu.wav"),
        ("info", "https://media.example.com/info.wav"),
        ("goodbye", "https://media.example.com/goodbye.wav"),
        ("sales", "user:5e3ce6c0-2b1f-4285-8d4b-75ee78787346"),
        ("operator", "user:6f5a4bc1-3c2e-4396-9e5c-86ff89898457"),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_string(), value.to_string()))
    .chain([("no_input_ms".to_string(), NO_INPUT_MS.to_string())])
    .collect();
    ivr.limits.host_calls = 100_000;
    config.plugins.insert("ivr".into(), ivr);
    config
        .validate()
        .map_err(|p| anyhow::anyhow!(p.join("; ")))?;
    let app = service
        .spawn(async move {
            let mut builder = App::builder(config).with_secret(ClientSecret::new("bench-secret"));
            if let Some(store) = given {
                builder = builder.with_store(store);
            }
            let app = builder.build().await?;
            let listener = tokio::net::TcpListener::from_std(listener)?;
            let router = app.callbacks.clone();
            tokio::spawn(async move { axum::serve(listener, router).await });
            anyhow::Ok(app)
        })
        .await??;
    Ok((format!("http://{addr}/api/calls"), app))
}

/// The simulator (for callback keys), a fake Graph and a service routed to the IVR, with a
/// valid callback token: what the load phases drive.
pub(super) struct Loaded {
    pub url: String,
    pub token: String,
    pub graph: std::sync::Arc<FakeGraph>,
    pub app: App,
    pub sim: Simulator,
    /// Last: the service's threads outlive everything that uses them.
    pub service: ServiceRuntime,
}

/// The IVR served from `plugin`, compiled into `cache`, its calls kept in `storage`.
pub(super) async fn loaded_service(
    plugin: &Path,
    cache: &Path,
    storage: Storage,
) -> anyhow::Result<Loaded> {
    let sim = Simulator::start(SimulatorSettings {
        bot_app_id: BOT.into(),
        ..SimulatorSettings::default()
    })
    .await?;
    let (graph, graph_addr) = FakeGraph::start().await?;
    let service = ServiceRuntime::new()?;
    let (url, app) =
        start_service(plugin, &sim, graph_addr, cache, storage, service.handle()).await?;
    let token = sim
        .issuer()
        .issue(IssueClaims::graph_callback(BOT, SIM_TENANT));
    Ok(Loaded {
        url,
        token,
        graph,
        app,
        sim,
        service,
    })
}

async fn end_to_end(options: &BenchOptions, report: &mut Report) -> anyhow::Result<()> {
    let section = "End to end: notification → Graph request";
    let seconds = if options.quick { 2 } else { 8 };
    let duration = Duration::from_secs(seconds);
    let concurrency = 64;
    // Memory first: its saturation sets the paced rates of both engines, so that the two
    // latencies at a share are taken at the same load.
    let mut memory_saturation: Option<LoadResult> = None;
    let mut storages = vec![Storage::Memory];
    let mut data_dirs = Vec::new();
    for sync in [Synchronous::Full, Synchronous::Normal] {
        let dir = tempfile_dir()?;
        storages.push(Storage::Sqlite(SqliteStore::open_with(&dir, sync)?, sync));
        data_dirs.push(dir);
    }
    for storage in storages {
        let engine = storage.name();
        let stats = match &storage {
            Storage::Sqlite(store, _) => Some(store.clone()),
            _ => None,
        };
        let counted = |read: fn(&StoreStats) -> &AtomicU64| {
            stats
                .as_ref()
                .map_or(0, |s| read(s.stats()).load(Ordering::Relaxed))
        };
        // Every part bound: what is not bound is dropped here, and the service with it.
        let Loaded {
            url,
            token,
            graph,
            app: _app,
            sim: _sim,
            service: _service,
        } = loaded_service(&options.ivr(), &options.shared_cache(), storage).await?;
        let commits_before = counted(|s| &s.commits);
        let jobs_before = counted(|s| &s.jobs);
        let saturated = drive(
            std::slice::from_ref(&url),
            &token,
            Some(graph.clone()),
            BOT,
            concurrency,
            None,
            duration,
        )
        .await;
        let commits = counted(|s| &s.commits) - commits_before;
        let jobs = counted(|s| &s.jobs) - jobs_before;
        let mut values = vec![
            ("events/s", json!(saturated.notifications_per_s.round())),
            ("p50 µs", json!(saturated.latency.p50_us)),
            ("p99 µs", json!(saturated.latency.p99_us)),
            ("p99.9 µs", json!(saturated.latency.p999_us)),
            ("errors", json!(saturated.errors)),
            (
                "service CPU µs/event",
                json!(saturated.cpu_per_notification_us().0),
            ),
            (
                "load CPU µs/event",
                json!(saturated.cpu_per_notification_us().1),
            ),
        ];
        if let Some(memory) = &memory_saturation {
            values.insert(
                1,
                (
                    "ratio to memory",
                    json!(saturated.notifications_per_s / memory.notifications_per_s.max(1.0)),
                ),
            );
            values.extend([
                (
                    "commits/s",
                    json!((commits as f64 / duration.as_secs_f64()).round()),
                ),
                (
                    "events per commit",
                    json!(saturated.notifications as f64 / commits.max(1) as f64),
                ),
                (
                    "store requests per commit",
                    json!(jobs as f64 / commits.max(1) as f64),
                ),
            ]);
        }
        report.add(
            section,
            &format!("callhost ({engine}) at saturation"),
            values,
            Some(format!("{concurrency} callers back to back, {seconds} s")),
        );
        let reference = memory_saturation
            .get_or_insert(saturated)
            .notifications_per_s;
        for share in [0.25, 0.5, 0.9] {
            let rate = reference * share;
            let paced = drive(
                std::slice::from_ref(&url),
                &token,
                Some(graph.clone()),
                BOT,
                concurrency,
                Some(rate),
                duration,
            )
            .await;
            report.add(
                section,
                &format!(
                    "callhost ({engine}) at {:.0} % of memory's saturation",
                    share * 100.0
                ),
                vec![
                    ("events/s", json!(paced.notifications_per_s.round())),
                    ("p50 µs", json!(paced.latency.p50_us)),
                    ("p99 µs", json!(paced.latency.p99_us)),
                    ("p99.9 µs", json!(paced.latency.p999_us)),
                    ("errors", json!(paced.errors)),
                ],
                Some(format!("target {rate:.0} events/s")),
            );
        }
    }
    for dir in data_dirs {
        let _ = std::fs::remove_dir_all(dir);
    }
    let (_bare, bare_addr) = start_bare_handler().await?;
    let bare = drive(
        &[format!("http://{bare_addr}/api/calls")],
        "not checked by the bare handler",
        None,
        BOT,
        concurrency,
        None,
        duration,
    )
    .await;
    let memory = memory_saturation.map_or(0.0, |m| m.notifications_per_s);
    report.add(
        section,
        "bare axum handler (parse JSON, 202): the ceiling",
        vec![
            ("events/s", json!(bare.notifications_per_s.round())),
            (
                "callhost (memory) / ceiling",
                json!(memory / bare.notifications_per_s.max(1.0)),
            ),
            (
                "service CPU µs/event",
                json!(bare.cpu_per_notification_us().0),
            ),
            ("load CPU µs/event", json!(bare.cpu_per_notification_us().1)),
        ],
        None,
    );
    Ok(())
}

/// RSS with many calls in progress, each holding call state (the IVR's menu progress).
async fn memory(options: &BenchOptions, report: &mut Report) -> anyhow::Result<()> {
    let Loaded {
        url,
        token,
        graph,
        app,
        sim: _sim,
        service: _service,
    } = loaded_service(&options.ivr(), &options.shared_cache(), Storage::Memory).await?;
    let http = reqwest::Client::new();
    // Freed memory of earlier sections may still be returned to the system while calls are
    // added, so the figure per call is the growth from the previous step, not from the start.
    let baseline = rss_bytes();
    let mut previous = baseline;
    let mut active = 0usize;
    let targets: &[usize] = if options.quick {
        &[1_000]
    } else {
        &[1_000, 10_000]
    };
    for &target in targets {
        let added = target - active;
        open_calls(&http, &url, &token, &graph, "mem", active..target).await;
        active = target;
        let calls = app.dispatcher.calls().len();
        let rss = rss_bytes();
        report.add(
            "Memory: calls in progress, each holding call state",
            &format!("{target} calls"),
            vec![
                ("calls tracked", json!(calls)),
                ("RSS MiB", json!(rss as f64 / (1 << 20) as f64)),
                (
                    "growth MiB",
                    json!((rss.saturating_sub(baseline)) as f64 / (1 << 20) as f64),
                ),
                (
                    "per call KiB",
                    json!((rss.saturating_sub(previous)) as f64 / 1024.0 / added as f64),
                ),
            ],
            Some(
                "RSS of the whole process (service, fake Graph and load generator); per call: \
                 growth over the previous step / calls added"
                    .into(),
            ),
        );
        previous = rss;
    }
    Ok(())
}

/// Calls `prefix-N` for N in `range`, each answered and playing its menu (holding call state),
/// 64 at a time.
pub(super) async fn open_calls(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    graph: &Arc<FakeGraph>,
    prefix: &str,
    range: std::ops::Range<usize>,
) {
    let batch: Vec<usize> = range.collect();
    for chunk in batch.chunks(64) {
        let mut joins = Vec::new();
        for &i in chunk {
            let (http, url, token, graph) = (
                http.clone(),
                url.to_string(),
                token.to_string(),
                graph.clone(),
            );
            let call = format!("{prefix}-{i}");
            joins.push(tokio::spawn(async move {
                // incoming → answered; established → menu playing: the call holds state.
                for (body, expect) in call_script(&call, BOT).into_iter().take(2) {
                    let _ = http.post(&url).bearer_auth(&token).json(&body).send().await;
                    if let Some((suffix, count)) = expect {
                        graph
                            .wait(&call, suffix, count, Duration::from_secs(20))
                            .await;
                    }
                }
            }));
        }
        for j in joins {
            let _ = j.await;
        }
    }
}

async fn startup(options: &BenchOptions, report: &mut Report) -> anyhow::Result<()> {
    let sim = Simulator::start(SimulatorSettings {
        bot_app_id: BOT.into(),
        ..SimulatorSettings::default()
    })
    .await?;
    let (_graph, graph_addr) = FakeGraph::start().await?;
    let cache = tempfile_dir()?;
    let service = ServiceRuntime::new()?;
    // The first start compiles into the empty cache, the second loads from it.
    let mut took = Vec::new();
    let mut app = None;
    for _ in 0..2 {
        drop(app.take());
        let started = Instant::now();
        let (_, started_app) = start_service(
            &options.ivr(),
            &sim,
            graph_addr,
            &cache,
            Storage::Memory,
            service.handle(),
        )
        .await?;
        took.push(started.elapsed());
        app = Some(started_app);
    }
    let (cold, warm) = (took[0], took[1]);
    let from_cache = app
        .as_ref()
        .and_then(|app| app.plugins.current("ivr"))
        .map(|v| v.info.from_cache)
        .unwrap_or(false);
    report.add(
        "Start-up to ready (IVR plugin)",
        "empty compile cache",
        vec![("ms", json!(cold.as_secs_f64() * 1e3))],
        None,
    );
    report.add(
        "Start-up to ready (IVR plugin)",
        "warm compile cache",
        vec![("ms", json!(warm.as_secs_f64() * 1e3))],
        Some(format!("loaded from cache: {from_cache}")),
    );
    let _ = std::fs::remove_dir_all(&cache);
    Ok(())
}

pub(super) fn tempfile_dir() -> anyhow::Result<PathBuf> {
    static MADE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "callhost-bench-{}-{}",
        std::process::id(),
        MADE.fetch_add(1, Ordering::Relaxed)
    ));
    // A directory left by an earlier process of the same id is not this run's.
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn total_memory_gib() -> f64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map(|kb| kb / (1 << 20) as f64)
        .unwrap_or(0.0)
}

fn chrono_date() -> String {
    std::process::Command::new("date")
        .arg("-u")
        .arg("+%Y-%m-%d")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}
