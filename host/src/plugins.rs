//! The plugins the service runs: the current version of each, by id.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use arc_swap::ArcSwap;

use crate::runtime::PluginVersion;

/// Current plugin versions by id. New calls get the current version; a call keeps the version
/// that handled its first event.
#[derive(Default, Clone)]
pub struct PluginRegistry {
    plugins: Arc<RwLock<BTreeMap<String, Arc<ArcSwap<PluginVersion>>>>>,
}

impl PluginRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Installs or replaces the current version of a plugin.
    pub fn install(&self, version: PluginVersion) {
        let id = version.info.id.clone();
        let mut plugins = self.plugins.write().unwrap_or_else(|e| e.into_inner());
        match plugins.get(&id) {
            Some(slot) => slot.store(Arc::new(version)),
            None => {
                plugins.insert(id, Arc::new(ArcSwap::from_pointee(version)));
            }
        }
    }

    /// The current version of a plugin.
    pub fn current(&self, id: &str) -> Option<PluginVersion> {
        let plugins = self.plugins.read().unwrap_or_else(|e| e.into_inner());
        plugins.get(id).map(|slot| (**slot.load()).clone())
    }

    /// Ids of all plugins.
    pub fn ids(&self) -> Vec<String> {
        let plugins = self.plugins.read().unwrap_or_else(|e| e.into_inner());
        plugins.keys().cloned().collect()
    }
}
