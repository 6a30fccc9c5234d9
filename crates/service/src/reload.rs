//! Putting new plugin versions and configurations in service while calls go on: the file
//! watcher, the reloader task, and applying a changed configuration file.
//!
//! This module sits above dispatch: it reads the configuration, loads plugins into the
//! [`PluginRegistry`] and hands new routes to the [`crate::dispatch::Dispatcher`]. The admin
//! API reaches it through a [`ReloadHandle`].

mod config_reload;
mod reloader;
mod watcher;

use std::sync::{Arc, OnceLock};

use tokio::sync::{mpsc, oneshot};

use crate::plugins::PluginRegistry;
pub use reloader::{RELOAD_DEBOUNCE, ReloadReport, start_reloader};

/// Why a reload asked for through [`ReloadHandle::reload`] did not happen.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ReloadError {
    #[error("no plugin `{0}` is configured")]
    UnknownPlugin(String),
    #[error("plugin reloading is not running in this process")]
    NotRunning,
    /// The new version was rejected; the previous one keeps serving.
    #[error("{0}")]
    Rejected(String),
}

/// Asks the reloader for reloads. Made before the reloader starts (the admin API holds one
/// from the start); until [`start_reloader`] is given it, reloads fail with
/// [`ReloadError::NotRunning`]. Cheap to clone.
#[derive(Clone)]
pub struct ReloadHandle {
    plugins: PluginRegistry,
    requests: Arc<OnceLock<mpsc::UnboundedSender<reloader::Request>>>,
}

impl ReloadHandle {
    pub fn new(plugins: PluginRegistry) -> Self {
        Self {
            plugins,
            requests: Arc::default(),
        }
    }

    /// Reloads a plugin from its file now, waiting for the result.
    pub async fn reload(&self, id: &str) -> Result<ReloadReport, ReloadError> {
        if !self.plugins.contains(id) {
            return Err(ReloadError::UnknownPlugin(id.to_string()));
        }
        let sender = self.requests.get().ok_or(ReloadError::NotRunning)?;
        let (reply, report) = oneshot::channel();
        sender
            .send(reloader::Request::Plugin {
                id: id.to_string(),
                reply,
            })
            .map_err(|_| ReloadError::NotRunning)?;
        report.await.map_err(|_| ReloadError::NotRunning)?
    }

    fn attach(&self, sender: mpsc::UnboundedSender<reloader::Request>) {
        if self.requests.set(sender).is_err() {
            tracing::warn!("a plugin reloader is already running for these plugins");
        }
    }
}
