//! The data of one event's store: the sandbox (WASI with nothing granted), limits, counters,
//! and what the host interfaces act on. Each interface sees only its part, through the
//! projections below.

use std::sync::Arc;
use std::time::Instant;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::host::{CallControlCtx, ConfigCtx, LogCtx, StateCtx, TimersCtx};
use super::limits::{ActionBudget, HostCallBudget, LogBudget, StoreLimiter};
use super::outbound::{Outbound, OutboundHttp};
use super::output::CapturedOutput;
use super::plugin::PluginInfo;
use super::state_store::StateTxn;
use super::timers::TimerTxn;
use callhost_call::{ActionOrigin, CallControl};

pub(crate) struct EventCtx {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: StoreLimiter,
    plugin: Arc<PluginInfo>,
    origin: ActionOrigin,
    control: Arc<dyn CallControl>,
    pub(crate) call_state: StateTxn,
    pub(crate) plugin_state: StateTxn,
    pub(crate) timers: TimerTxn,
    host_calls: HostCallBudget,
    pub(crate) actions: ActionBudget,
    pub(crate) log_lines: LogBudget,
    /// When the plugin's compute time runs out; pushed back by the time spent in the host
    /// (waiting for Graph, the store, HTTP): see [`Self::in_host`].
    pub(crate) deadline: Instant,
    /// Since when the plugin has been in a host function, if it is.
    host_since: Option<Instant>,
    http_ctx: WasiHttpCtx,
    http: OutboundHttp,
    pub(crate) stdout: CapturedOutput,
    pub(crate) stderr: CapturedOutput,
}

pub(crate) struct EventCtxParts {
    pub plugin: Arc<PluginInfo>,
    pub origin: ActionOrigin,
    pub control: Arc<dyn CallControl>,
    pub call_state: StateTxn,
    pub plugin_state: StateTxn,
    pub timers: TimerTxn,
    pub outbound: Arc<Outbound>,
}

impl EventCtx {
    pub(crate) fn new(parts: EventCtxParts) -> Self {
        let limits = &parts.plugin.limits;
        let stdout = CapturedOutput::new(limits.output_bytes);
        let stderr = CapturedOutput::new(limits.output_bytes);
        // Deny by default: no preopened directories, no environment, no arguments, no
        // sockets or name lookups, no inherited stdio. Clocks and random are allowed.
        let wasi = WasiCtx::builder()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let http = OutboundHttp::new(
            parts.plugin.clone(),
            parts.origin.clone(),
            parts.control.clone(),
            parts.outbound,
        );
        Self {
            wasi,
            table: ResourceTable::new(),
            host_since: None,
            http_ctx: WasiHttpCtx::new(),
            http,
            limiter: StoreLimiter::new(limits),
            deadline: Instant::now() + limits.deadline,
            host_calls: HostCallBudget::new(limits.host_calls),
            actions: ActionBudget::new(limits.actions),
            log_lines: LogBudget::new(limits.log_lines),
            plugin: parts.plugin,
            origin: parts.origin,
            control: parts.control,
            call_state: parts.call_state,
            plugin_state: parts.plugin_state,
            timers: parts.timers,
            stdout,
            stderr,
        }
    }

    /// The plugin calls into the host (`true`) or returns from it: the time in between is
    /// not compute time, and moves the deadline back.
    pub(crate) fn in_host(&mut self, entering: bool) {
        let now = Instant::now();
        match entering {
            true => self.host_since = Some(now),
            false => {
                if let Some(since) = self.host_since.take() {
                    self.deadline += now - since;
                }
            }
        }
    }

    /// What the `state` interface acts on.
    pub(crate) fn state(&mut self) -> StateCtx<'_> {
        StateCtx {
            call: &mut self.call_state,
            plugin: &mut self.plugin_state,
            host_calls: &mut self.host_calls,
        }
    }

    /// What the `timers` interface acts on.
    pub(crate) fn timers(&mut self) -> TimersCtx<'_> {
        TimersCtx {
            timers: &mut self.timers,
            host_calls: &mut self.host_calls,
        }
    }

    /// What the `log` interface acts on.
    pub(crate) fn log(&mut self) -> LogCtx<'_> {
        LogCtx {
            plugin_id: &self.plugin.id,
            call_id: &self.origin.call_id,
            lines: &mut self.log_lines,
            host_calls: &mut self.host_calls,
        }
    }

    /// What the `config` interface acts on.
    pub(crate) fn config(&mut self) -> ConfigCtx<'_> {
        ConfigCtx {
            config: &self.plugin.config,
            host_calls: &mut self.host_calls,
        }
    }

    /// What the `call-control` interface acts on.
    pub(crate) fn call_control(&mut self) -> CallControlCtx<'_> {
        CallControlCtx {
            plugin_id: &self.plugin.id,
            policy: &self.plugin.policy,
            origin: &self.origin,
            control: &*self.control,
            host_calls: &mut self.host_calls,
            actions: &mut self.actions,
            timers: &mut self.timers,
        }
    }
}

impl WasiView for EventCtx {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for EventCtx {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http_ctx,
            table: &mut self.table,
            hooks: &mut self.http,
        }
    }
}
