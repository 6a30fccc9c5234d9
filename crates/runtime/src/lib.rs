//! The wasmtime side: one engine per process, one validated pre-instantiated component per
//! plugin version, and a fresh, bounded store per call event.

mod bindings;
mod compile_cache;
mod convert;
mod engine;
mod event_ctx;
mod host;
mod invoke;
mod limits;
mod outbound;
mod outcome;
mod output;
mod plugin;
pub mod state_store;
#[doc(hidden)]
pub mod test_support;
mod timers;

pub use compile_cache::CompileCache;
pub use engine::{AllocationStrategy, Runtime, RuntimeSettings};
pub use invoke::{EventInput, Invocation};
pub use limits::PluginLimits;
pub use outbound::AllowedHosts;
pub use outcome::Outcome;
pub use plugin::{
    PluginInfo, PluginLoadError, PluginSpec, PluginVersion, WORLD_PACKAGE, version_of,
};
pub use state_store::{MemoryStateStore, Revisioned, StateFault, StateScope, StateStore, Swap};
pub use timers::TimerView;
