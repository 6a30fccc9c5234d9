//! Host implementations of the WIT interfaces, one module per `.wit` file.

mod call_control;
mod config;
mod log;
mod state;

impl super::bindings::types::Host for super::event_ctx::EventCtx {}
