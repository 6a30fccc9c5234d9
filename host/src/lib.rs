//! callhost: a Microsoft Teams calling bot whose call logic runs in sandboxed WebAssembly plugins.
//!
//! Graph POSTs call notifications to [`server`]; [`dispatch`] turns each into a typed
//! [`call::CallEvent`] and runs the workflow plugin that owns the call in [`runtime`]; the
//! plugin's call-control requests become [`call::CallAction`]s that [`graph`] sends to Microsoft
//! Graph.

pub mod app;
pub mod bench;
pub mod call;
pub mod cli;
pub mod config;
pub mod dispatch;
pub mod graph;
pub mod journal;
pub mod plugins;
pub mod policy;
pub mod runtime;
pub mod scenario;
pub mod server;
pub mod simulator;
#[cfg(test)]
mod test_support;
