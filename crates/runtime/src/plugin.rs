//! A plugin version: a validated, pre-instantiated component with its configuration.

use std::collections::BTreeMap;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::{Component, Linker};

use super::bindings::WorkflowPre;
use super::compile_cache::CompileCache;
use super::event_ctx::EventCtx;
use super::limits::PluginLimits;
use super::outbound::AllowedHosts;
use callhost_call::policy::CapabilityPolicy;

/// The WIT package every workflow targets.
pub const WORLD_PACKAGE: &str = "callhost:workflow@0.3.0";
const HANDLER_EXPORT: &str = "callhost:workflow/handler@0.3.0";

/// What the host knows of a plugin, besides its code.
#[derive(Debug, Clone)]
pub struct PluginSpec {
    pub id: String,
    pub config: BTreeMap<String, String>,
    pub limits: PluginLimits,
    pub policy: CapabilityPolicy,
    /// Where its HTTP requests may go; nowhere by default.
    pub allowed_outbound_hosts: AllowedHosts,
}

impl PluginSpec {
    /// A plugin with default limits, the default policy and no configuration.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            config: BTreeMap::new(),
            limits: PluginLimits::default(),
            policy: CapabilityPolicy::default(),
            allowed_outbound_hosts: AllowedHosts::default(),
        }
    }
}

/// A loaded plugin version's identity and settings.
#[derive(Debug)]
pub struct PluginInfo {
    pub id: String,
    /// SHA-256 of the component bytes, hex.
    pub hash: String,
    pub config: BTreeMap<String, String>,
    pub limits: PluginLimits,
    pub policy: CapabilityPolicy,
    pub allowed_outbound_hosts: AllowedHosts,
    /// The interfaces the component imports, with versions (`callhost:workflow/state@0.3.0`,
    /// `wasi:cli/stdout@0.2.6`, …).
    pub imports: Vec<String>,
    /// Whether the compiled code came from the on-disk compile cache.
    pub from_cache: bool,
}

/// Digits of the hash that name a version in logs, journals and the admin API.
const VERSION_DIGITS: usize = 12;

/// The version a component's bytes load as: the first digits of their SHA-256, as
/// [`PluginInfo::version`] reports it.
pub fn version_of(bytes: &[u8]) -> String {
    let mut hash = hex::encode(Sha256::digest(bytes));
    hash.truncate(VERSION_DIGITS);
    hash
}

impl PluginInfo {
    /// The short version tag used in logs: the first 12 hex digits of the hash.
    pub fn version(&self) -> &str {
        &self.hash[..VERSION_DIGITS.min(self.hash.len())]
    }

    /// Whether the plugin imports `wasi:http/outgoing-handler`: it sends HTTP requests, and
    /// reaches only what its `allowed_outbound_hosts` lists.
    pub fn sends_http(&self) -> bool {
        self.imports
            .iter()
            .any(|i| i.starts_with("wasi:http/outgoing-handler"))
    }

    /// The optional `callhost:workflow` interfaces the plugin imports, by name.
    pub fn workflow_imports(&self) -> Vec<&str> {
        self.imports
            .iter()
            .filter_map(|i| i.strip_prefix("callhost:workflow/"))
            .map(|i| i.split('@').next().unwrap_or(i))
            .collect()
    }
}

/// A plugin version ready to serve events. Cheap to clone.
#[derive(Clone)]
pub struct PluginVersion {
    pub info: Arc<PluginInfo>,
    pub(crate) pre: WorkflowPre<EventCtx>,
}

impl std::fmt::Debug for PluginVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginVersion")
            .field("info", &self.info)
            .finish()
    }
}

/// Why a plugin could not be loaded. Each message names the plugin and what to do.
#[derive(Debug, thiserror::Error)]
pub enum PluginLoadError {
    #[error("plugin {plugin}: cannot read {path}: {reason}")]
    Read {
        plugin: String,
        path: String,
        reason: String,
    },
    #[error(
        "plugin {plugin}: not a WebAssembly file (no `\\0asm` header); build it for wasm32-wasip2"
    )]
    NotWasm { plugin: String },
    #[error(
        "plugin {plugin}: this is a core WebAssembly module, not a component; build it for wasm32-wasip2 (or wrap it with `wasm-tools component new`)"
    )]
    CoreModule { plugin: String },
    #[error("plugin {plugin}: invalid component: {reason}")]
    Compile { plugin: String, reason: String },
    #[error(
        "plugin {plugin}: export `{HANDLER_EXPORT}` missing; is it built against wit/ of this version ({WORLD_PACKAGE}, world `workflow`)?{detail}"
    )]
    MissingExport { plugin: String, detail: String },
    #[error(
        "plugin {plugin}: built against callhost:workflow@{found}, and this callhost serves {WORLD_PACKAGE} only; rebuild the plugin against wit/ of this release (`callhost new` scaffolds and the plugin guide show how)"
    )]
    OtherContract { plugin: String, found: String },
    #[error(
        "plugin {plugin}: imports that callhost cannot provide: {reason}. A workflow may import only `callhost:workflow` interfaces and WASI 0.2"
    )]
    UnsatisfiedImport { plugin: String, reason: String },
}

const WASM_MAGIC: &[u8; 4] = b"\0asm";
const CORE_VERSION: [u8; 4] = [1, 0, 0, 0];

pub(crate) fn load(
    engine: &Engine,
    linker: &Linker<EventCtx>,
    cache: Option<&CompileCache>,
    spec: PluginSpec,
    bytes: &[u8],
) -> Result<PluginVersion, PluginLoadError> {
    let plugin = spec.id.clone();
    if bytes.len() < 8 || &bytes[..4] != WASM_MAGIC {
        return Err(PluginLoadError::NotWasm { plugin });
    }
    if bytes[4..8] == CORE_VERSION {
        return Err(PluginLoadError::CoreModule { plugin });
    }
    let hash = hex::encode(Sha256::digest(bytes));
    let compile_error = |e: wasmtime::Error| PluginLoadError::Compile {
        plugin: plugin.clone(),
        reason: format!("{e:#}"),
    };
    let (component, from_cache) = match cache {
        Some(cache) => cache
            .load_or_compile(engine, bytes, &hash)
            .map_err(compile_error)?,
        None => (Component::new(engine, bytes).map_err(compile_error)?, false),
    };
    let ty = component.component_type();
    let imports: Vec<String> = ty
        .imports(engine)
        .map(|(name, _)| name.to_string())
        .collect();
    let exports: Vec<String> = ty
        .exports(engine)
        .map(|(name, _)| name.to_string())
        .collect();
    if let Some(found) = other_contract(imports.iter().chain(&exports)) {
        return Err(PluginLoadError::OtherContract { plugin, found });
    }
    let instance_pre =
        linker
            .instantiate_pre(&component)
            .map_err(|e| PluginLoadError::UnsatisfiedImport {
                plugin: plugin.clone(),
                reason: format!("{e:#}"),
            })?;
    if !exports.iter().any(|e| e == HANDLER_EXPORT) {
        let detail = if exports.is_empty() {
            " It exports nothing.".to_string()
        } else {
            format!(" It exports: {}.", exports.join(", "))
        };
        return Err(PluginLoadError::MissingExport { plugin, detail });
    }
    let pre = WorkflowPre::new(instance_pre).map_err(|e| PluginLoadError::MissingExport {
        plugin: plugin.clone(),
        detail: format!(" ({e:#})"),
    })?;
    Ok(PluginVersion {
        info: Arc::new(PluginInfo {
            id: spec.id,
            hash,
            config: spec.config,
            limits: spec.limits,
            policy: spec.policy,
            allowed_outbound_hosts: spec.allowed_outbound_hosts,
            imports,
            from_cache,
        }),
        pre,
    })
}

/// The version of `callhost:workflow` a component names, when it is not the one served here.
fn other_contract<'a>(names: impl IntoIterator<Item = &'a String>) -> Option<String> {
    let served = WORLD_PACKAGE.split('@').nth(1)?;
    names.into_iter().find_map(|name| {
        let version = name.strip_prefix("callhost:workflow/")?.split('@').nth(1)?;
        (version != served).then(|| version.to_owned())
    })
}
