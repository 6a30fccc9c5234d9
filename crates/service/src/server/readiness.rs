//! What `/readyz` reports: the service is ready once every plugin is loaded, Graph's callback
//! signing keys were fetched (without them every callback is refused) and the client secret is
//! present. Until then it says why not.

use std::sync::{Arc, Mutex, MutexGuard};

use crate::graph::callback_auth::{CallbackAuthenticator, KeysStatus};

/// Shared between the service's start-up and the health endpoint. Cheap to clone.
#[derive(Clone, Default)]
pub struct Readiness {
    inner: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    plugins: Plugins,
    /// Why Graph requests will fail (no client secret), when they will.
    credentials: Option<String>,
    /// Shutting down: finishing what was accepted, taking nothing new.
    stopping: bool,
}

#[derive(Default)]
enum Plugins {
    /// Not started loading yet.
    #[default]
    Waiting,
    Loading {
        loaded: usize,
        total: usize,
        current: Option<String>,
    },
    Loaded,
    /// The plugin that failed.
    Failed(String),
}

impl Readiness {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `total` plugins are about to be loaded.
    pub fn plugins_loading(&self, total: usize) {
        self.state().plugins = Plugins::Loading {
            loaded: 0,
            total,
            current: None,
        };
    }

    /// The plugin `id` is being loaded (compiled, or taken from the cache).
    pub fn plugin_loading(&self, id: &str) {
        if let Plugins::Loading { current, .. } = &mut self.state().plugins {
            *current = Some(id.to_string());
        }
    }

    /// The plugin being loaded is in service.
    pub fn plugin_loaded(&self) {
        if let Plugins::Loading {
            loaded, current, ..
        } = &mut self.state().plugins
        {
            *loaded += 1;
            *current = None;
        }
    }

    /// Every plugin is in service.
    pub fn plugins_loaded(&self) {
        self.state().plugins = Plugins::Loaded;
    }

    /// The plugin `id` failed to load: the service will not become ready.
    pub fn plugin_failed(&self, id: &str) {
        self.state().plugins = Plugins::Failed(id.to_string());
    }

    /// Graph requests will fail, for `reason`.
    pub fn credentials_missing(&self, reason: impl Into<String>) {
        self.state().credentials = Some(reason.into());
    }

    /// The service is shutting down: not ready from now on.
    pub fn stopping(&self) {
        self.state().stopping = true;
    }

    /// Whether every plugin is loaded; callbacks are taken only then.
    pub fn plugins_ready(&self) -> bool {
        matches!(self.state().plugins, Plugins::Loaded)
    }

    /// Why the service is not ready; empty when it is.
    pub fn reasons(&self, auth: &CallbackAuthenticator) -> Vec<String> {
        let mut reasons = Vec::new();
        {
            let state = self.state();
            if state.stopping {
                reasons.push(
                    "the service is shutting down: finishing accepted notifications".to_string(),
                );
            }
            match &state.plugins {
                Plugins::Loaded => {}
                Plugins::Waiting => reasons.push("plugins are not loaded yet".to_string()),
                Plugins::Loading {
                    loaded,
                    total,
                    current,
                } => reasons.push(match current {
                    Some(id) => format!(
                        "plugins are loading: {loaded} of {total} loaded, now compiling {id}"
                    ),
                    None => format!("plugins are loading: {loaded} of {total} loaded"),
                }),
                Plugins::Failed(plugin) => reasons.push(format!(
                    "plugin {plugin} failed to load (the log says why); the service is stopping"
                )),
            }
            if let Some(credentials) = &state.credentials {
                reasons.push(credentials.clone());
            }
        }
        // The URL and the error are in the log; an unauthenticated caller learns only this.
        match auth.keys_status() {
            KeysStatus::Fetched => {}
            KeysStatus::NotFetched => reasons.push(
                "Graph's callback signing keys are not fetched yet; callbacks are refused until they are"
                    .to_string(),
            ),
            KeysStatus::Unavailable { .. } => reasons.push(
                "Graph's callback signing keys cannot be fetched (the log has the URL and the \
                 error); callbacks are refused until they are"
                    .to_string(),
            ),
        }
        reasons
    }
}
