//! callhost: a Microsoft Teams calling bot whose call logic runs in sandboxed WebAssembly plugins.
//!
//! Graph POSTs call notifications to [`server`]; [`dispatch`] turns each into a typed
//! [`call::CallEvent`] and runs the workflow plugin that owns the call in [`runtime`]; the
//! plugin's call-control requests become [`call::CallAction`]s that [`graph`] sends to Microsoft
//! Graph.

pub mod app;
pub mod config;
pub mod dispatch;
pub mod journal;
pub mod plugins;
pub mod reload;
pub mod server;
pub mod storage;

pub use callhost_call as call;
pub use callhost_call::policy;
pub use callhost_graph as graph;
pub use callhost_runtime as runtime;
