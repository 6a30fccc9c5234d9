//! Host implementations of the WIT interfaces, one module per `.wit` file. Each interface is
//! implemented on a small context holding only what it needs, projected from the event's
//! [`EventCtx`] when the plugin calls in.

mod call_control;
mod config;
mod log;
mod state;
mod timers;

use wasmtime::component::{HasData, Linker};

use super::bindings::{
    call_control as cc, config as cfg, log as lg, state as st, timers as tm, types,
};
use super::event_ctx::EventCtx;

pub(crate) use call_control::{CallControlCtx, CallControlError};
pub(crate) use config::ConfigCtx;
pub(crate) use log::LogCtx;
pub(crate) use state::StateCtx;
pub(crate) use timers::TimersCtx;

/// Adds every `callhost:workflow` interface to `linker`, each with its projection.
pub(crate) fn add_to_linker(linker: &mut Linker<EventCtx>) -> wasmtime::Result<()> {
    // `types` has no functions; its host side converts `call-error`, next to call-control.
    types::add_to_linker::<_, CallControlData>(linker, EventCtx::call_control)?;
    cc::add_to_linker::<_, CallControlData>(linker, EventCtx::call_control)?;
    st::add_to_linker::<_, StateData>(linker, EventCtx::state)?;
    tm::add_to_linker::<_, TimersData>(linker, EventCtx::timers)?;
    lg::add_to_linker::<_, LogData>(linker, EventCtx::log)?;
    cfg::add_to_linker::<_, ConfigData>(linker, EventCtx::config)?;
    Ok(())
}

struct StateData;

impl HasData for StateData {
    type Data<'a> = StateCtx<'a>;
}

struct TimersData;

impl HasData for TimersData {
    type Data<'a> = TimersCtx<'a>;
}

struct LogData;

impl HasData for LogData {
    type Data<'a> = LogCtx<'a>;
}

struct ConfigData;

impl HasData for ConfigData {
    type Data<'a> = ConfigCtx<'a>;
}

struct CallControlData;

impl HasData for CallControlData {
    type Data<'a> = CallControlCtx<'a>;
}
