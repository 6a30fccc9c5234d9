//! The process-wide engine, its linker and the epoch ticker that enforces deadlines.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use serde::Deserialize;
use tokio::sync::Semaphore;
use wasmtime::component::Linker;
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::compile_cache::CompileCache;
use super::event_ctx::EventCtx;
use super::host;
use super::outbound::Outbound;
use super::plugin::{self, PluginLoadError, PluginSpec, PluginVersion};

/// How instances get their memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AllocationStrategy {
    /// The pooling allocator when the machine allows it, otherwise on demand.
    #[default]
    Auto,
    Pooling,
    OnDemand,
}

/// Settings of the runtime.
#[derive(Debug, Clone)]
pub struct RuntimeSettings {
    /// Where compiled components are cached; `None` compiles every time.
    pub cache_dir: Option<PathBuf>,
    /// Plugin instances alive at once; further events wait for a slot.
    pub max_instances: u32,
    pub allocation: AllocationStrategy,
    /// How often the epoch advances; deadlines are checked at this granularity.
    pub epoch_tick: Duration,
    /// Roots plugins' HTTPS requests trust besides the Mozilla ones (a private CA).
    pub outbound_roots: Vec<rustls::pki_types::CertificateDer<'static>>,
    /// Plain-HTTP services that stand in for origins plugins send requests to, by origin
    /// (`https://crm.example.com`): scenarios and simulations fake a CRM or a webhook this
    /// way, with the plugin's `allowed_outbound_hosts` still checked against the origin.
    pub outbound_stand_ins: BTreeMap<String, SocketAddr>,
}

impl Default for RuntimeSettings {
    fn default() -> Self {
        Self {
            cache_dir: None,
            max_instances: 256,
            allocation: AllocationStrategy::Auto,
            epoch_tick: Duration::from_millis(10),
            outbound_roots: Vec::new(),
            outbound_stand_ins: BTreeMap::new(),
        }
    }
}

/// One per process: the engine, the linker with every host interface, the compile cache and
/// the limit on live instances. Cheap to clone.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    linker: Linker<EventCtx>,
    cache: Option<CompileCache>,
    /// What plugins' requests share.
    outbound: Arc<Outbound>,
    permits: Arc<Semaphore>,
    pooling: bool,
}

impl Runtime {
    pub fn new(settings: RuntimeSettings) -> anyhow::Result<Self> {
        let (engine, pooling) = build_engine(&settings)?;
        start_epoch_ticker(&engine, settings.epoch_tick);
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        host::add_to_linker(&mut linker)?;
        let outbound = Arc::new(Outbound::new(
            &settings.outbound_roots,
            &settings.outbound_stand_ins,
        )?);
        let cache = match &settings.cache_dir {
            Some(dir) => Some(CompileCache::open(dir).with_context(|| {
                format!(
                    "cannot create the compile cache directory {}; set runtime.cache_dir to a writable directory",
                    dir.display()
                )
            })?),
            None => None,
        };
        Ok(Self {
            inner: Arc::new(Inner {
                engine,
                linker,
                cache,
                outbound,
                permits: Arc::new(Semaphore::new(settings.max_instances as usize)),
                pooling,
            }),
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    pub(crate) fn outbound(&self) -> &Arc<Outbound> {
        &self.inner.outbound
    }

    /// Whether the pooling allocator is in use.
    pub fn uses_pooling(&self) -> bool {
        self.inner.pooling
    }

    pub(crate) fn permits(&self) -> &Arc<Semaphore> {
        &self.inner.permits
    }

    /// Compiles (or loads from the cache), links and validates a component. CPU-heavy for
    /// large components: call it off the async executor (`spawn_blocking`).
    pub fn load(&self, spec: PluginSpec, bytes: &[u8]) -> Result<PluginVersion, PluginLoadError> {
        plugin::load(
            &self.inner.engine,
            &self.inner.linker,
            self.inner.cache.as_ref(),
            spec,
            bytes,
        )
    }

    /// [`Runtime::load`] from a file.
    pub fn load_file(
        &self,
        spec: PluginSpec,
        path: &Path,
    ) -> Result<PluginVersion, PluginLoadError> {
        let bytes = std::fs::read(path).map_err(|e| PluginLoadError::Read {
            plugin: spec.id.clone(),
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        self.load(spec, &bytes)
    }
}

fn base_config() -> Config {
    let mut config = Config::new();
    config.epoch_interruption(true).max_wasm_stack(512 << 10);
    config
}

/// With `PAGEMAP_SCAN` (Linux 6.7+), how much of each linear memory and table stays resident
/// between instances: the pages an instance dirtied are copied back from the memory image, with
/// no `madvise`, TLB shootdown or page fault on the next instance. 1 MiB covers what a Rust or C
/// workflow touches per event and bounds what idle slots keep. Without `PAGEMAP_SCAN`, kept
/// bytes would be reset by a blind `memset`, so memory is returned with `madvise` as usual.
const KEEP_RESIDENT_WITH_PAGEMAP: usize = 1 << 20;

fn pooling_config(max_instances: u32, pagemap: bool) -> PoolingAllocationConfig {
    let n = max_instances;
    let mut pool = PoolingAllocationConfig::new();
    if pagemap {
        pool.pagemap_scan(Enabled::Yes)
            .linear_memory_keep_resident(KEEP_RESIDENT_WITH_PAGEMAP)
            .table_keep_resident(KEEP_RESIDENT_WITH_PAGEMAP);
    } else {
        pool.pagemap_scan(Enabled::No);
    }
    // Components from Python and JavaScript hold several core instances, memories and tables.
    pool.total_component_instances(n)
        .total_core_instances(8 * n)
        .total_memories(2 * n)
        .total_tables(8 * n)
        .total_stacks(n)
        .max_memories_per_component(8)
        .max_tables_per_component(32)
        .max_core_instances_per_component(32);
    pool
}

fn build_engine(settings: &RuntimeSettings) -> anyhow::Result<(Engine, bool)> {
    if settings.allocation != AllocationStrategy::OnDemand {
        let pooled = |pagemap| {
            let mut config = base_config();
            config.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling_config(
                settings.max_instances,
                pagemap,
            )));
            Engine::new(&config)
        };
        // `Enabled::Yes` fails where the kernel lacks PAGEMAP_SCAN; then reset without it.
        match pooled(true).or_else(|_| pooled(false)) {
            Ok(engine) => return Ok((engine, true)),
            Err(e) if settings.allocation == AllocationStrategy::Auto => {
                tracing::warn!(error = %e, "pooling allocator unavailable on this machine; allocating instances on demand");
            }
            Err(e) => {
                return Err(anyhow::anyhow!(e).context(
                    "the pooling allocator could not reserve its memory; set runtime.allocation = \"auto\" or \"on-demand\", or lower runtime.max_instances",
                ));
            }
        }
    }
    let engine = Engine::new(&base_config())?;
    Ok((engine, false))
}

/// Advances the engine's epoch from a dedicated thread; ends when the engine is dropped.
fn start_epoch_ticker(engine: &Engine, tick: Duration) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("callhost-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(tick);
            }
        })
        .expect("spawning the epoch thread");
}
