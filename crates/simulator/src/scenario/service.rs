//! The whole service in one process with the Graph simulator, both on loopback: what
//! scenarios, `callhost simulate`, `callhost replay` and the demo run against.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, bail};

use crate::{SIM_TENANT, Simulator, SimulatorSettings};
use callhost::app::App;
use callhost::config::{Config, PluginConfig, RouteConfig, RouteMatch};
use callhost::dispatch::Dispatcher;
use callhost::graph::token::ClientSecret;
use callhost::journal::MemoryJournal;

/// The public URL the simulated service names in its requests (`callbackUri`). The
/// simulator delivers to the real loopback listener instead; a fixed URL keeps requests
/// equal from one run to the next.
pub const SIMULATED_PUBLIC_URL: &str = "https://callhost.simulated";

/// The plugin the service runs, behind its only (default) route.
#[derive(Debug, Clone)]
pub struct ServiceSpec {
    pub plugin_path: PathBuf,
    /// Its id in the service: the configuration's `[plugins.<id>]`, else the file's name.
    pub plugin_id: String,
    /// Config values, limits and policy (`path` is `plugin_path`).
    pub plugin: PluginConfig,
    /// Fallback and decision budget (it matches every call).
    pub route: RouteConfig,
    /// Where compiled plugins are cached; default a directory under the system's temp dir.
    pub cache_dir: Option<PathBuf>,
    /// Loopback services that stand in for the origins the plugin sends HTTP requests to.
    pub stand_ins: BTreeMap<String, SocketAddr>,
}

impl ServiceSpec {
    /// `plugin_path` with no config values, the default limits and policy, and the default
    /// fallback and decision budget.
    pub fn new(plugin_path: &Path) -> anyhow::Result<Self> {
        let id = plugin_path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .filter(|s| !s.is_empty())
            .with_context(|| format!("{} names no plugin file", plugin_path.display()))?;
        Ok(Self {
            plugin_path: plugin_path.to_path_buf(),
            plugin: PluginConfig::new(plugin_path),
            route: RouteConfig::to(&id),
            plugin_id: id,
            cache_dir: None,
            stand_ins: BTreeMap::new(),
        })
    }

    /// Takes the plugin's config values, limits and policy from `config`'s entry for it — its
    /// only `[plugins.<id>]`, or the one whose path names the same file, or whose id is the
    /// file's name — and the fallback and decision budget from the first route to it. Listen
    /// addresses, Graph URLs and credentials are the simulator's, not the configuration's.
    pub fn with_config(mut self, config: &Config) -> anyhow::Result<Self> {
        let file = self.plugin_path.file_name();
        let stem = self.plugin_path.file_stem().map(|s| s.to_string_lossy());
        let matching: Vec<(&String, &PluginConfig)> = if config.plugins.len() == 1 {
            config.plugins.iter().collect()
        } else {
            config
                .plugins
                .iter()
                .filter(|(id, p)| {
                    p.path.file_name() == file || Some(id.as_str()) == stem.as_deref()
                })
                .collect()
        };
        let (id, plugin) = match matching.as_slice() {
            [one] => *one,
            [] => bail!(
                "the configuration has no [plugins.<id>] entry for {}: give it one whose path names {} (or whose id is `{}`)",
                self.plugin_path.display(),
                file.map(|f| f.to_string_lossy()).unwrap_or_default(),
                stem.unwrap_or_default()
            ),
            many => bail!(
                "the configuration has several entries for {}: {}; keep one",
                self.plugin_path.display(),
                many.iter()
                    .map(|(id, _)| format!("[plugins.{id}]"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        self.plugin_id = id.clone();
        self.plugin = PluginConfig {
            path: self.plugin_path.clone(),
            // The pin guards what `serve` runs; a simulation runs the file it is given.
            sha256: None,
            ..plugin.clone()
        };
        self.route.plugin = id.clone();
        if let Some(route) = config.routes.iter().find(|r| &r.plugin == id) {
            self.route = RouteConfig {
                matches: RouteMatch::default(),
                ..route.clone()
            };
        }
        if let Some(dir) = &config.runtime.cache_dir {
            self.cache_dir = Some(config.resolve(dir));
        }
        Ok(self)
    }

    /// [`ServiceSpec::new`] with the configuration file at `path`, if any.
    pub fn load(plugin_path: &Path, config_path: Option<&Path>) -> anyhow::Result<Self> {
        let spec = Self::new(plugin_path)?;
        let Some(path) = config_path else {
            return Ok(spec);
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the configuration {}", path.display()))?;
        let mut config = Config::parse(&text)
            .map_err(|e| anyhow::anyhow!("invalid configuration {}: {e}", path.display()))?;
        config.base_dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        spec.with_config(&config)
            .with_context(|| format!("configuration {}", path.display()))
    }
}

/// A running simulator and the service wired to it. Dropping it stops the callback listener.
pub struct SimulatedService {
    pub sim: Simulator,
    pub dispatcher: Dispatcher,
    pub journal: Arc<MemoryJournal>,
    pub plugin_id: String,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for SimulatedService {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl SimulatedService {
    /// Starts the simulator with `settings` and the service for `spec` on ephemeral loopback
    /// ports.
    pub async fn start(spec: &ServiceSpec, settings: SimulatorSettings) -> anyhow::Result<Self> {
        let sim = Simulator::start(settings).await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let mut config = Config::new(addr, SIMULATED_PUBLIC_URL, &sim.settings().bot_app_id);
        config.bot.default_tenant = Some(SIM_TENANT.to_string());
        config.graph.base_url = sim.graph_url();
        config.graph.token_url = sim.token_url();
        config.graph.openid_config_url = sim.openid_url();
        config.graph.request_timeout_ms = 5000;
        config.admin.enabled = false;
        config.base_dir = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        config.plugins.insert(
            spec.plugin_id.clone(),
            PluginConfig {
                path: spec.plugin_path.clone(),
                ..spec.plugin.clone()
            },
        );
        config.routes = vec![RouteConfig {
            plugin: spec.plugin_id.clone(),
            matches: RouteMatch::default(),
            ..spec.route.clone()
        }];
        // A simulation runs the files it started with: no watchers to hold.
        config.runtime.watch = false;
        config.runtime.outbound_stand_ins = spec.stand_ins.clone();
        config.runtime.cache_dir = Some(
            spec.cache_dir
                .clone()
                .unwrap_or_else(|| std::env::temp_dir().join("callhost-simulate-cache")),
        );
        config
            .validate()
            .map_err(|problems| callhost::config::ConfigError {
                path: format!("(simulated service for {})", spec.plugin_path.display()),
                problems,
            })?;
        let callback_path = config.server.callback_path.clone();
        let app = App::builder(config)
            .with_secret(ClientSecret::new("simulated-client-secret".to_string()))
            .build()
            .await?;
        sim.set_callback_url(format!("http://{addr}{callback_path}"));
        let callbacks = app.callbacks.clone();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, callbacks).await;
        });
        Ok(Self {
            sim,
            dispatcher: app.dispatcher.clone(),
            journal: app.journal.clone(),
            plugin_id: spec.plugin_id.clone(),
            server,
        })
    }
}
