//! How one plugin invocation ended.

use std::time::Duration;

use serde::Serialize;

/// The result of running a plugin for one event. Anything but `Completed` and `Failed` means
/// the plugin was stopped by the host; its state writes for the event were discarded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Outcome {
    /// `on-event` returned `ok`.
    Completed,
    /// `on-event` returned `err` with this message.
    Failed { message: String },
    /// The plugin ran past its deadline (compute) or wall-clock timeout.
    Timeout { limit_ms: u64 },
    /// The plugin tried to grow its memory past the cap.
    OutOfMemory { limit_bytes: usize },
    /// The plugin overflowed its stack.
    StackOverflow,
    /// The plugin made more host calls or call-control actions than allowed for one event.
    HostCallLimit { what: String, limit: u32 },
    /// The plugin trapped (a panic, an unreachable, a bad memory access, …).
    Trap {
        message: String,
        backtrace: Option<String>,
    },
    /// No instance could be created (pool exhausted, start function trapped, …).
    InstantiationFailed { message: String },
}

impl Outcome {
    /// A short name for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::Failed { .. } => "failed",
            Outcome::Timeout { .. } => "timeout",
            Outcome::OutOfMemory { .. } => "out-of-memory",
            Outcome::StackOverflow => "stack-overflow",
            Outcome::HostCallLimit { .. } => "host-call-limit",
            Outcome::Trap { .. } => "trap",
            Outcome::InstantiationFailed { .. } => "instantiation-failed",
        }
    }

    /// True when the plugin ran to its end (successfully or returning an error).
    pub fn returned(&self) -> bool {
        matches!(self, Outcome::Completed | Outcome::Failed { .. })
    }
}

/// A host-side limit hit inside a host call; raised as a trap and reported as its outcome.
#[derive(Debug, thiserror::Error)]
#[error("plugin exceeded its limit of {limit} {what} per event")]
pub(crate) struct HostLimitExceeded {
    pub what: &'static str,
    pub limit: u32,
}

/// Classifies a trap from wasmtime into an [`Outcome`].
pub(crate) fn classify_trap(
    error: &wasmtime::Error,
    memory_exhausted: bool,
    memory_limit: usize,
    deadline: Duration,
) -> Outcome {
    if let Some(limit) = error.downcast_ref::<HostLimitExceeded>() {
        return Outcome::HostCallLimit {
            what: limit.what.to_string(),
            limit: limit.limit,
        };
    }
    match error.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::Interrupt) => {
            return Outcome::Timeout {
                limit_ms: deadline.as_millis() as u64,
            };
        }
        Some(wasmtime::Trap::StackOverflow) => return Outcome::StackOverflow,
        _ => {}
    }
    if memory_exhausted {
        return Outcome::OutOfMemory {
            limit_bytes: memory_limit,
        };
    }
    let backtrace = error
        .downcast_ref::<wasmtime::WasmBacktrace>()
        .map(|bt| bt.to_string());
    let message = match error.downcast_ref::<wasmtime::Trap>() {
        Some(trap) => trap.to_string(),
        None => format!("{error:#}"),
    };
    Outcome::Trap { message, backtrace }
}
