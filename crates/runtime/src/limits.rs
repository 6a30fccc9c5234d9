//! What one plugin invocation may use.

use std::time::Duration;

use serde::Deserialize;

mod budget;

pub(crate) use budget::{ActionBudget, HostCallBudget, LogBudget};

/// Per-plugin limits, applied to every event.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PluginLimits {
    /// Guest compute time per event; time spent waiting for Graph is not counted.
    #[serde(with = "humantime_ms", rename = "deadline_ms")]
    pub deadline: Duration,
    /// Wall-clock bound per event, Graph waits included.
    #[serde(with = "humantime_ms", rename = "wall_timeout_ms")]
    pub wall_timeout: Duration,
    /// Linear memory per instance, in bytes.
    pub memory_bytes: usize,
    /// Elements per table.
    pub table_elements: usize,
    /// Core instances, tables and memories per component instance.
    pub instances: usize,
    pub tables: usize,
    pub memories: usize,
    /// Host calls (state, log, config, call-control) per event.
    pub host_calls: u32,
    /// Call-control actions (Graph requests) per event.
    pub actions: u32,
    /// Log lines per event (log interface); further lines are dropped and counted.
    pub log_lines: u32,
    /// Bytes of stdout and of stderr kept per event; the rest is dropped and counted.
    pub output_bytes: usize,
    /// Outbound HTTP requests per event (`allowed_outbound_hosts` says where to).
    pub http_requests: u32,
    /// The longest a request may take to connect (name lookup and TLS included), to its
    /// response's first byte, and between bytes of its body; a plugin may ask for less, and
    /// none reaches past the event's wall-clock bound.
    #[serde(with = "humantime_ms", rename = "http_connect_timeout_ms")]
    pub http_connect_timeout: Duration,
    #[serde(with = "humantime_ms", rename = "http_first_byte_timeout_ms")]
    pub http_first_byte_timeout: Duration,
    #[serde(with = "humantime_ms", rename = "http_between_bytes_timeout_ms")]
    pub http_between_bytes_timeout: Duration,
    /// Body bytes of one request, and of one response.
    pub http_request_bytes: u64,
    pub http_response_bytes: u64,
}

impl Default for PluginLimits {
    fn default() -> Self {
        Self {
            deadline: Duration::from_secs(1),
            wall_timeout: Duration::from_secs(30),
            memory_bytes: 64 << 20,
            table_elements: 20_000,
            instances: 32,
            tables: 32,
            memories: 8,
            host_calls: 10_000,
            actions: 50,
            log_lines: 1_000,
            output_bytes: 64 << 10,
            http_requests: 10,
            http_connect_timeout: Duration::from_secs(2),
            http_first_byte_timeout: Duration::from_secs(5),
            http_between_bytes_timeout: Duration::from_secs(5),
            http_request_bytes: 1 << 20,
            http_response_bytes: 4 << 20,
        }
    }
}

mod humantime_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

/// Memory and table limits of one store; remembers whether the memory cap was hit so that a
/// guest that aborts after a failed allocation is reported as out of memory.
pub(crate) struct StoreLimiter {
    memory_bytes: usize,
    table_elements: usize,
    instances: usize,
    tables: usize,
    memories: usize,
    pub(crate) memory_exhausted: bool,
}

impl StoreLimiter {
    pub(crate) fn new(limits: &PluginLimits) -> Self {
        Self {
            memory_bytes: limits.memory_bytes,
            table_elements: limits.table_elements,
            instances: limits.instances,
            tables: limits.tables,
            memories: limits.memories,
            memory_exhausted: false,
        }
    }
}

impl wasmtime::ResourceLimiter for StoreLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = desired <= self.memory_bytes;
        if !allowed {
            self.memory_exhausted = true;
        }
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= self.table_elements)
    }

    fn instances(&self) -> usize {
        self.instances
    }

    fn tables(&self) -> usize {
        self.tables
    }

    fn memories(&self) -> usize {
        self.memories
    }
}
