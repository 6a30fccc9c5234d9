//! The plugins the service runs: for each, where it comes from, its current version, the older
//! versions still serving the calls pinned to them, and how its reloads went.
//!
//! New calls get a plugin's current version and stay pinned to it until they end
//! ([`OnReload::Pin`]), or move to the newest version at their next event
//! ([`OnReload::Migrate`]). A version is dropped when nothing holds it any more: the registry
//! holds only the current one, each call holds its own.

mod plugin_config;
mod source;
mod version;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use serde::Serialize;
use tokio::sync::watch;

use crate::runtime::PluginVersion;
pub use plugin_config::{OnReload, PluginConfig};
pub use source::PluginSource;
pub use version::{PinnedVersion, VersionSummary};
use version::{VersionStatus, rfc3339};

/// The plugins by id. Cheap to clone.
#[derive(Default, Clone)]
pub struct PluginRegistry {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    plugins: RwLock<BTreeMap<String, Arc<Slot>>>,
    /// Reloads of the configuration file.
    config: ReloadStats,
    changes: Changes,
}

/// Counts changes of the registry: installs, removals, reloads tried, versions drained.
#[derive(Clone)]
pub(crate) struct Changes(Arc<watch::Sender<u64>>);

impl Default for Changes {
    fn default() -> Self {
        Self(Arc::new(watch::channel(0).0))
    }
}

impl Changes {
    pub(crate) fn bump(&self) {
        self.0.send_modify(|n| *n += 1);
    }
}

/// One plugin.
pub(crate) struct Slot {
    id: String,
    current: ArcSwap<Installed>,
    source: RwLock<PluginSource>,
    /// The current version and the draining ones (some may be dropped already; see
    /// [`VersionStatus::is_loaded`]).
    versions: Mutex<Vec<Arc<VersionStatus>>>,
    reloads: ReloadStats,
    changes: Changes,
}

struct Installed {
    version: PluginVersion,
    status: Arc<VersionStatus>,
}

impl PluginRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Installs `version` of the plugin `source` describes as its current version. Calls in
    /// progress keep theirs. `load_time` is how long reading, compiling and probing took.
    pub fn install(&self, source: PluginSource, version: PluginVersion, load_time: Duration) {
        let status = Arc::new(VersionStatus::new(&version, load_time));
        let installed = Arc::new(Installed {
            version,
            status: status.clone(),
        });
        let id = source.spec.id.clone();
        let mut plugins = write(&self.inner.plugins);
        match plugins.get(&id) {
            Some(slot) => {
                *write(&slot.source) = source;
                let mut versions = lock(&slot.versions);
                versions.retain(|v| v.is_loaded());
                versions.push(status);
                slot.current.store(installed);
            }
            None => {
                let slot = Slot {
                    id: id.clone(),
                    current: ArcSwap::new(installed),
                    source: RwLock::new(source),
                    versions: Mutex::new(vec![status]),
                    reloads: ReloadStats::default(),
                    changes: self.inner.changes.clone(),
                };
                plugins.insert(id, Arc::new(slot));
            }
        }
        drop(plugins);
        self.inner.changes.bump();
    }

    /// Forgets a plugin (removed from the configuration). Its calls in progress keep their
    /// version until they end.
    pub fn remove(&self, id: &str) {
        write(&self.inner.plugins).remove(id);
        self.inner.changes.bump();
    }

    /// Changes whenever a version is installed or drained, a plugin removed, or a reload
    /// tried; for waiting on them.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.inner.changes.0.subscribe()
    }

    /// The current version of a plugin.
    pub fn current(&self, id: &str) -> Option<PluginVersion> {
        self.slot(id)
            .map(|slot| slot.current.load().version.clone())
    }

    /// Where a plugin comes from.
    pub fn source(&self, id: &str) -> Option<PluginSource> {
        self.slot(id).map(|slot| read(&slot.source).clone())
    }

    /// Ids of all plugins.
    pub fn ids(&self) -> Vec<String> {
        read(&self.inner.plugins).keys().cloned().collect()
    }

    /// Pins a call to `version`; the pin counts as one call of that version until dropped.
    pub fn pin(&self, version: PluginVersion) -> PinnedVersion {
        match self.slot(&version.info.id) {
            Some(slot) => slot.pin(version),
            // Not a registered plugin: counted, but listed nowhere.
            None => PinnedVersion::detached(version),
        }
    }

    /// Every plugin with its versions and reload history, and the configuration's reloads.
    pub fn report(&self) -> PluginsReport {
        let slots: Vec<Arc<Slot>> = read(&self.inner.plugins).values().cloned().collect();
        PluginsReport {
            plugins: slots.iter().map(|slot| slot.summary()).collect(),
            config: self.inner.config.snapshot(),
        }
    }

    /// [`PluginRegistry::install`] of a reloaded version: also counted as a reload.
    pub(crate) fn install_reloaded(
        &self,
        source: PluginSource,
        version: PluginVersion,
        load_time: Duration,
    ) {
        if let Some(slot) = self.slot(source.id()) {
            slot.reloads.succeeded();
        }
        self.install(source, version, load_time);
    }

    /// Counts a reload of the configuration file (after it was applied).
    pub(crate) fn config_reloaded(&self) {
        self.inner.config.succeeded();
        self.inner.changes.bump();
    }

    /// Counts a rejected reload of the plugin `id`, or of the configuration file when `None`.
    pub(crate) fn reload_failed(&self, id: Option<&str>, message: &str) {
        match id {
            Some(id) => {
                if let Some(slot) = self.slot(id) {
                    slot.reloads.failed(message);
                }
            }
            None => self.inner.config.failed(message),
        }
        self.inner.changes.bump();
    }

    pub(crate) fn contains(&self, id: &str) -> bool {
        self.slot(id).is_some()
    }

    fn slot(&self, id: &str) -> Option<Arc<Slot>> {
        read(&self.inner.plugins).get(id).cloned()
    }
}

impl Slot {
    fn pin(self: &Arc<Self>, version: PluginVersion) -> PinnedVersion {
        let mut versions = lock(&self.versions);
        let status = match versions.iter().find(|v| v.is(&version)) {
            Some(status) => status.clone(),
            None => {
                // Replaced and dropped from the list between lookup and pinning.
                let status = Arc::new(VersionStatus::new(&version, Duration::ZERO));
                versions.push(status.clone());
                status
            }
        };
        PinnedVersion::new(version, status, self.clone())
    }

    /// The current version, pinned, when calls move on reload and `than` is not it.
    fn newer_than(self: &Arc<Self>, than: &PluginVersion) -> Option<PinnedVersion> {
        if read(&self.source).on_reload != OnReload::Migrate {
            return None;
        }
        let current = self.current.load();
        if Arc::ptr_eq(&current.version.info, &than.info) {
            return None;
        }
        Some(PinnedVersion::new(
            current.version.clone(),
            current.status.clone(),
            self.clone(),
        ))
    }

    fn summary(&self) -> PluginSummary {
        let source = read(&self.source).clone();
        let current = self.current.load();
        let mut versions = lock(&self.versions);
        versions.retain(|v| v.is_loaded());
        PluginSummary {
            id: self.id.clone(),
            path: source.path.display().to_string(),
            on_reload: source.on_reload,
            current: current.status.version().to_string(),
            versions: versions
                .iter()
                .map(|v| v.summary(Arc::ptr_eq(v, &current.status)))
                .collect(),
            reloads: self.reloads.snapshot(),
        }
    }
}

/// Successful and failed reloads of one thing (a plugin, the configuration file).
#[derive(Default)]
struct ReloadStats {
    counts: Mutex<ReloadCounts>,
}

impl ReloadStats {
    fn succeeded(&self) {
        lock(&self.counts).reloads += 1;
    }

    fn failed(&self, message: &str) {
        let mut counts = lock(&self.counts);
        counts.failures += 1;
        counts.last_error = Some(ReloadFailure {
            at: rfc3339(SystemTime::now()),
            message: message.to_string(),
        });
    }

    fn snapshot(&self) -> ReloadCounts {
        lock(&self.counts).clone()
    }
}

/// How reloading went so far.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReloadCounts {
    /// New versions (or configurations) put in service.
    pub reloads: u64,
    /// Rejected ones: the previous one kept serving.
    pub failures: u64,
    /// Why the last rejected one was rejected; kept after later successes.
    pub last_error: Option<ReloadFailure>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReloadFailure {
    /// When (RFC 3339, UTC).
    pub at: String,
    pub message: String,
}

/// `GET /admin/plugins`.
#[derive(Debug, Clone, Serialize)]
pub struct PluginsReport {
    pub plugins: Vec<PluginSummary>,
    /// Reloads of the configuration file.
    pub config: ReloadCounts,
}

/// One plugin as the admin API lists it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PluginSummary {
    pub id: String,
    pub path: String,
    pub on_reload: OnReload,
    /// The short version (hash prefix) new calls get.
    pub current: String,
    /// The current version and the draining ones still serving pinned calls.
    pub versions: Vec<VersionSummary>,
    pub reloads: ReloadCounts,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}
