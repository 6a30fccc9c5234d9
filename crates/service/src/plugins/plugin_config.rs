//! A plugin's table in the configuration, `[plugins.<id>]`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::policy::PolicyConfig;
use crate::runtime::PluginLimits;

/// One workflow plugin.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginConfig {
    /// The component file, relative to this configuration file.
    pub path: PathBuf,
    /// Values the plugin reads through the `config` interface.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    #[serde(default)]
    pub limits: PluginLimits,
    /// What the plugin may do; see [`crate::policy`] for the default.
    #[serde(default)]
    pub policy: PolicyConfig,
    /// Where the plugin's HTTP requests may go, in Spin's syntax (`https://crm.example.com`,
    /// `https://*.example.com`, `http://10.0.0.0/8:8080`); none when absent or empty.
    #[serde(default)]
    pub allowed_outbound_hosts: Vec<String>,
    /// Refuse to load the file unless its SHA-256 (hex) is this.
    pub sha256: Option<String>,
    /// What a new version does to calls in progress: `pin` (default: each call keeps its
    /// version) or `migrate` (each call moves to the new version at its next event).
    #[serde(default)]
    pub on_reload: OnReload,
}

/// What happens to a plugin's calls in progress when a new version is loaded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnReload {
    /// Each call stays with the version that handled its first event; the old version is
    /// dropped when its last call ends.
    #[default]
    Pin,
    /// Each call moves to the new version at its next event. Call state is kept (it belongs
    /// to the plugin id and the call, not to a version), so the new version must read what
    /// the old one wrote.
    Migrate,
}

impl PluginConfig {
    /// The component at `path` with no config values, the default limits and policy, no
    /// outbound HTTP, and [`OnReload::Pin`].
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            config: BTreeMap::new(),
            limits: PluginLimits::default(),
            policy: PolicyConfig::default(),
            allowed_outbound_hosts: Vec::new(),
            sha256: None,
            on_reload: OnReload::default(),
        }
    }
}
