//! The reloader: one task that puts new plugin versions and configurations in service, one at
//! a time, whatever asked for it: a watched file that changed, `SIGHUP`, or
//! `POST /admin/plugins/{id}/reload`. One at a time keeps at most one compile competing with
//! calls for the CPU, and keeps two reloads of a plugin from racing each other.
//!
//! A new version is put in service only once it was read whole, matched its pinned hash,
//! compiled, validated against the world and instantiated; otherwise the previous version
//! keeps serving and the reason is logged, counted and shown by `GET /admin/plugins`.
//!
//! On a store shared by many instances, a version put in service here is announced to the
//! others ([`Store::announce`](crate::storage::Store::announce)), which load the same bytes
//! from the store: a reload on one instance, by file or by admin request, reaches every one.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use super::watcher::{FileWatcher, watched_path};
use super::{ReloadError, ReloadHandle, config_reload};
use crate::config::Config;
use crate::dispatch::Dispatcher;
use crate::plugins::{PluginRegistry, PluginSource};
use crate::runtime::{PluginVersion, Runtime};

/// How long a changed file must stay quiet before it is reloaded: a writer that copies a
/// file in several writes, or an editor's rename-and-recreate, is done by then.
pub const RELOAD_DEBOUNCE: Duration = Duration::from_millis(200);

/// What a reload announced to the other instances says: `plugin-version <id> <sha256>`.
const ANNOUNCED: &str = "plugin-version";

/// A reload asked for by the admin API.
pub(crate) enum Request {
    Plugin {
        id: String,
        reply: oneshot::Sender<Result<ReloadReport, ReloadError>>,
    },
}

/// `POST /admin/plugins/{id}/reload`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReloadReport {
    pub plugin: String,
    /// Whether a new version went in service; `false` when the file holds the current one.
    pub reloaded: bool,
    /// The current version now.
    pub version: String,
    pub from_cache: bool,
    /// Reading, compiling and probing, in milliseconds.
    pub load_ms: u64,
}

impl ReloadReport {
    fn new(version: &PluginVersion, reloaded: bool, took: Duration) -> Self {
        Self {
            plugin: version.info.id.clone(),
            reloaded,
            version: version.info.version().to_string(),
            from_cache: version.info.from_cache,
            load_ms: took.as_millis() as u64,
        }
    }
}

/// What asked for a reload, for the logs.
#[derive(Debug, Clone, Copy)]
enum Trigger {
    FileChanged,
    Hangup,
    AdminRequest,
    /// Another instance put the version in service.
    Announced,
}

impl Trigger {
    fn as_str(self) -> &'static str {
        match self {
            Trigger::FileChanged => "file changed",
            Trigger::Hangup => "SIGHUP",
            Trigger::AdminRequest => "admin request",
            Trigger::Announced => "another instance",
        }
    }
}

/// What a watched file is.
#[derive(Debug, Clone)]
enum Target {
    Config,
    Plugin(String),
}

/// Starts reloading the plugins loaded from `config` and the dispatcher's routes: on
/// `SIGHUP` and admin requests, and on file changes when `runtime.watch` is on. Runs until
/// the async runtime stops. Reloads asked for through `handle` go to it.
pub fn start_reloader(
    config: Config,
    runtime: Runtime,
    plugins: PluginRegistry,
    dispatcher: Dispatcher,
    handle: &ReloadHandle,
) {
    let (requests_tx, requests) = mpsc::unbounded_channel();
    handle.attach(requests_tx);
    let (changes_tx, changes) = mpsc::unbounded_channel();
    let news = dispatcher.news();
    let watcher = if config.runtime.watch {
        match FileWatcher::new(changes_tx) {
            Ok(watcher) => Some(watcher),
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch files: plugins reload only on SIGHUP or POST /admin/plugins/{{id}}/reload");
                None
            }
        }
    } else {
        None
    };
    let mut reloader = Reloader {
        config,
        runtime,
        plugins,
        dispatcher,
        watcher,
        watched: HashMap::new(),
        pending: HashMap::new(),
    };
    reloader.rewatch();
    // Listening starts now, not when the task first runs: a SIGHUP right after startup
    // reloads instead of ending the process.
    let hangups = signal::hangups();
    tokio::spawn(reloader.run(requests, changes, news, hangups));
}

struct Reloader {
    /// The configuration in force.
    config: Config,
    runtime: Runtime,
    plugins: PluginRegistry,
    dispatcher: Dispatcher,
    watcher: Option<FileWatcher>,
    /// Watched files, as events name them.
    watched: HashMap<PathBuf, Vec<Target>>,
    /// Changed files and when they will have been quiet long enough.
    pending: HashMap<PathBuf, Instant>,
}

impl Reloader {
    async fn run(
        mut self,
        mut requests: mpsc::UnboundedReceiver<Request>,
        mut changes: mpsc::UnboundedReceiver<PathBuf>,
        mut news: mpsc::UnboundedReceiver<String>,
        mut hangups: signal::Hangups,
    ) {
        loop {
            let due = self.pending.values().min().copied();
            tokio::select! {
                Some(request) = requests.recv() => self.handle(request).await,
                Some(path) = changes.recv() => self.changed(path),
                Some(news) = news.recv() => self.heard(&news).await,
                () = signal::next(&mut hangups) => self.reload_everything().await,
                () = tokio::time::sleep_until(due.unwrap_or_else(Instant::now).into()), if due.is_some() => {
                    self.reload_quiet_files().await
                }
                else => return,
            }
        }
    }

    async fn handle(&mut self, request: Request) {
        match request {
            Request::Plugin { id, reply } => {
                let result = self.reload_plugin(&id, Trigger::AdminRequest, None).await;
                let _ = reply.send(result);
            }
        }
    }

    fn changed(&mut self, path: PathBuf) {
        if self.watched.contains_key(&path) {
            tracing::debug!(path = %path.display(), "watched file changed");
            self.pending.insert(path, Instant::now() + RELOAD_DEBOUNCE);
        }
    }

    async fn reload_quiet_files(&mut self) {
        let now = Instant::now();
        let quiet: Vec<PathBuf> = self
            .pending
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(path, _)| path.clone())
            .collect();
        for path in quiet {
            self.pending.remove(&path);
            for target in self.watched.get(&path).cloned().unwrap_or_default() {
                match target {
                    Target::Config => self.reload_config(Trigger::FileChanged).await,
                    Target::Plugin(id) => {
                        let _ = self.reload_plugin(&id, Trigger::FileChanged, None).await;
                    }
                }
            }
        }
    }

    /// News from another instance: a version it put in service is put in service here too.
    async fn heard(&mut self, news: &str) {
        let mut words = news.split(' ');
        let (Some(ANNOUNCED), Some(id), Some(hash), None) =
            (words.next(), words.next(), words.next(), words.next())
        else {
            tracing::debug!(%news, "news from another instance that this one does not act on");
            return;
        };
        if !self.plugins.contains(id) {
            tracing::warn!(
                plugin = id,
                "another instance put a new version of plugin `{id}` in service, and it is not configured here; configure every instance alike"
            );
            return;
        }
        let _ = self.reload_plugin(id, Trigger::Announced, Some(hash)).await;
    }

    /// The bytes of the version another instance announced, from the store, if this instance
    /// may serve it.
    async fn announced_bytes(&self, source: &PluginSource, hash: &str) -> anyhow::Result<Vec<u8>> {
        let id = source.id();
        if let Some(pin) = &source.sha256
            && !pin.eq_ignore_ascii_case(hash)
        {
            anyhow::bail!(
                "plugin {id}: another instance serves sha256 {hash}, but plugins.{id}.sha256 here pins {pin}; give every instance the same pin"
            );
        }
        self.dispatcher
            .store()
            .component(hash.to_owned())
            .await
            .map_err(|e| anyhow::anyhow!("reading the component from the store: {e}"))?
            .ok_or_else(|| anyhow::anyhow!("the store has no component {hash}"))
    }

    async fn reload_everything(&mut self) {
        tracing::info!("SIGHUP: reloading the configuration and every plugin");
        self.reload_config(Trigger::Hangup).await;
        for id in self.plugins.ids() {
            let _ = self.reload_plugin(&id, Trigger::Hangup, None).await;
        }
    }

    /// Loads the plugin's file, or the version another instance `announced` (its hash) from the
    /// store, and, if it is a new version that passes every check, makes it current. A version
    /// from the file is announced to the other instances in turn.
    async fn reload_plugin(
        &mut self,
        id: &str,
        trigger: Trigger,
        announced: Option<&str>,
    ) -> Result<ReloadReport, ReloadError> {
        let source = self
            .plugins
            .source(id)
            .ok_or_else(|| ReloadError::UnknownPlugin(id.to_string()))?;
        let current = self
            .plugins
            .current(id)
            .ok_or_else(|| ReloadError::UnknownPlugin(id.to_string()))?;
        let started = Instant::now();
        let loaded = async {
            let bytes = match announced {
                Some(hash) if hash == current.info.hash => return Ok(None),
                Some(hash) => self.announced_bytes(&source, hash).await?,
                None => {
                    let (bytes, hash) = source.read().await?;
                    if hash == current.info.hash {
                        return Ok(None);
                    }
                    // Stored before it serves: calls pinned to it survive a restart, and the
                    // other instances load it from there.
                    self.dispatcher
                        .store()
                        .put_component(bytes.clone())
                        .await
                        .map_err(|e| anyhow::anyhow!("storing the component: {e}"))?;
                    bytes
                }
            };
            source
                .compile(&self.runtime, bytes, started)
                .await
                .map(Some)
        }
        .await;
        let (reloaded, rejected) = match announced {
            None => (
                "plugin reloaded: new calls get the new version",
                "plugin reload rejected; the previous version keeps serving",
            ),
            Some(_) => (
                "plugin reloaded as another instance did: new calls get the new version",
                "the version another instance put in service was rejected here; this instance keeps serving its own",
            ),
        };
        match loaded {
            Ok(None) => {
                tracing::debug!(
                    plugin = id,
                    trigger = trigger.as_str(),
                    version = current.info.version(),
                    "plugin file unchanged; nothing to reload"
                );
                Ok(ReloadReport::new(&current, false, started.elapsed()))
            }
            Ok(Some(loaded)) => {
                let report = ReloadReport::new(&loaded.version, true, loaded.took);
                tracing::info!(plugin = id, trigger = trigger.as_str(), from = current.info.version(), to = %report.version, from_cache = report.from_cache, load_ms = report.load_ms, on_reload = ?source.on_reload, "{reloaded}");
                let news = format!("{ANNOUNCED} {id} {}", loaded.version.info.hash);
                self.plugins
                    .install_reloaded(source, loaded.version, loaded.took);
                if announced.is_none()
                    && let Err(e) = self.dispatcher.store().announce(news).await
                {
                    tracing::warn!(plugin = id, error = %e, "the other instances were not told of the new version; reload it on each of them");
                }
                Ok(report)
            }
            Err(e) => {
                let message = format!("{e:#}");
                tracing::warn!(plugin = id, trigger = trigger.as_str(), version = current.info.version(), error = %message, "{rejected}");
                self.plugins.reload_failed(Some(id), &message);
                Err(ReloadError::Rejected(message))
            }
        }
    }

    /// Applies a changed configuration file, or keeps the one in force if anything in it is
    /// wrong.
    async fn reload_config(&mut self, trigger: Trigger) {
        let Some(path) = self.config.path.clone() else {
            return;
        };
        match config_reload::apply(&self.config, &self.runtime, &self.plugins, &self.dispatcher)
            .await
        {
            Ok(Some(config)) => {
                self.plugins.config_reloaded();
                self.config = config;
                self.rewatch();
            }
            Ok(None) => {
                tracing::debug!(path = %path.display(), trigger = trigger.as_str(), "routes and plugins unchanged in the configuration");
            }
            Err(message) => {
                tracing::warn!(path = %path.display(), trigger = trigger.as_str(), error = %message, "new configuration rejected; the previous one stays in force");
                self.plugins.reload_failed(None, &message);
            }
        }
    }

    /// Watches the configuration file and every plugin's file.
    fn rewatch(&mut self) {
        let Some(watcher) = &mut self.watcher else {
            return;
        };
        let mut watched: HashMap<PathBuf, Vec<Target>> = HashMap::new();
        let config = self.config.path.iter().map(|p| (p.clone(), Target::Config));
        let plugins = self.plugins.ids().into_iter().filter_map(|id| {
            let source = self.plugins.source(&id)?;
            Some((source.path, Target::Plugin(id)))
        });
        for (file, target) in config.chain(plugins) {
            match watched_path(&file) {
                Some(path) => watched.entry(path).or_default().push(target),
                None => {
                    tracing::warn!(file = %file.display(), "cannot watch this file: its directory does not exist")
                }
            }
        }
        watcher.watch(watched.keys());
        self.watched = watched;
    }
}

/// `SIGHUP`, where there is one.
mod signal {
    #[cfg(unix)]
    pub(super) type Hangups = Option<tokio::signal::unix::Signal>;
    #[cfg(not(unix))]
    pub(super) type Hangups = ();

    #[cfg(unix)]
    pub(super) fn hangups() -> Hangups {
        use tokio::signal::unix::{SignalKind, signal};
        signal(SignalKind::hangup())
            .map_err(|e| tracing::warn!(error = %e, "cannot listen for SIGHUP; reload through the admin API"))
            .ok()
    }

    #[cfg(not(unix))]
    pub(super) fn hangups() -> Hangups {}

    /// Resolves at the next `SIGHUP`; never when there is none to listen for.
    pub(super) async fn next(hangups: &mut Hangups) {
        #[cfg(unix)]
        if let Some(signals) = hangups
            && signals.recv().await.is_some()
        {
            return;
        }
        let _ = hangups;
        std::future::pending::<()>().await
    }
}
