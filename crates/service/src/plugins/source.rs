//! Where a plugin comes from, and how a version of it is loaded: read, checked against its
//! pinned hash, compiled off the async executor through the compile cache, probed.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use sha2::{Digest, Sha256};

use super::OnReload;
use crate::runtime::{PluginSpec, PluginVersion, Runtime};

/// A configured plugin: its file and everything but its code.
#[derive(Debug, Clone)]
pub struct PluginSource {
    /// The component file, resolved against the configuration's directory.
    pub path: PathBuf,
    /// The SHA-256 (hex) the file must have, when pinned.
    pub sha256: Option<String>,
    pub on_reload: OnReload,
    pub spec: PluginSpec,
}

/// A version loaded from a source, and how long that took.
pub(crate) struct Loaded {
    pub version: PluginVersion,
    pub took: Duration,
}

impl PluginSource {
    pub fn id(&self) -> &str {
        &self.spec.id
    }

    /// Reads, compiles and probes the plugin.
    pub async fn load(&self, runtime: &Runtime) -> anyhow::Result<PluginVersion> {
        let started = Instant::now();
        let (bytes, _) = self.read().await?;
        Ok(self.compile(runtime, bytes, started).await?.version)
    }

    /// The file's bytes and their SHA-256 (hex), checked against the pin.
    pub(crate) async fn read(&self) -> anyhow::Result<(Vec<u8>, String)> {
        let id = self.id();
        let bytes = tokio::fs::read(&self.path)
            .await
            .with_context(|| format!("plugin {id}: cannot read {}", self.path.display()))?;
        let hash = hex::encode(Sha256::digest(&bytes));
        if let Some(pin) = &self.sha256
            && !hash.eq_ignore_ascii_case(pin)
        {
            bail!(
                "plugin {id}: {} has sha256 {hash}, but plugins.{id}.sha256 pins {pin}; update the pin in the configuration to deploy it",
                self.path.display()
            );
        }
        Ok((bytes, hash))
    }

    /// Compiles (or loads from the compile cache) and validates `bytes` on a blocking thread,
    /// then instantiates it once to be sure it can serve. `started` is when loading began.
    pub(crate) async fn compile(
        &self,
        runtime: &Runtime,
        bytes: Vec<u8>,
        started: Instant,
    ) -> anyhow::Result<Loaded> {
        let spec = self.spec.clone();
        let compiler = runtime.clone();
        let version = tokio::task::spawn_blocking(move || compiler.load(spec, &bytes))
            .await
            .context("the compile task ended early")??;
        runtime
            .probe(&version)
            .await
            .map_err(|e| anyhow::anyhow!("plugin {}: {e}", self.id()))?;
        if version.info.sends_http() && version.info.allowed_outbound_hosts.is_empty() {
            let id = self.id();
            tracing::warn!(plugin = %id, "plugin {id} sends HTTP requests (it imports wasi:http/outgoing-handler) and plugins.{id}.allowed_outbound_hosts is empty: every request it sends is refused; list the origins it may reach, as in `allowed_outbound_hosts = [\"https://crm.example.com\"]`");
        }
        Ok(Loaded {
            version,
            took: started.elapsed(),
        })
    }
}
