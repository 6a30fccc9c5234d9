//! The data of one event's store: the sandbox (WASI with nothing granted), limits, counters,
//! and what the host interfaces act on.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::limits::StoreLimiter;
use super::outcome::HostLimitExceeded;
use super::output::CapturedOutput;
use super::plugin::PluginInfo;
use super::state_store::StateTxn;
use callhost_call::{ActionOrigin, ActionOutput, CallAction, CallControl, CallError};

pub(crate) struct EventCtx {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: StoreLimiter,
    pub(crate) plugin: Arc<PluginInfo>,
    pub(crate) origin: ActionOrigin,
    control: Arc<dyn CallControl>,
    pub(crate) call_state: StateTxn,
    pub(crate) plugin_state: StateTxn,
    host_calls: u32,
    actions: u32,
    log_lines: u32,
    pub(crate) logs_dropped: u32,
    /// Call-control requests the plugin's policy refused.
    pub(crate) actions_denied: u32,
    /// When the plugin's compute time runs out; pushed back by time spent waiting for Graph.
    pub(crate) deadline: Instant,
    pub(crate) stdout: CapturedOutput,
    pub(crate) stderr: CapturedOutput,
}

pub(crate) struct EventCtxParts {
    pub plugin: Arc<PluginInfo>,
    pub origin: ActionOrigin,
    pub control: Arc<dyn CallControl>,
    pub call_state: StateTxn,
    pub plugin_state: StateTxn,
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
        Self {
            wasi,
            table: ResourceTable::new(),
            limiter: StoreLimiter::new(limits),
            deadline: Instant::now() + limits.deadline,
            plugin: parts.plugin,
            origin: parts.origin,
            control: parts.control,
            call_state: parts.call_state,
            plugin_state: parts.plugin_state,
            host_calls: 0,
            actions: 0,
            log_lines: 0,
            logs_dropped: 0,
            actions_denied: 0,
            stdout,
            stderr,
        }
    }

    /// Counts one host call; past the plugin's limit the plugin is stopped.
    pub(crate) fn host_call(&mut self) -> wasmtime::Result<()> {
        self.host_calls += 1;
        let limit = self.plugin.limits.host_calls;
        if self.host_calls > limit {
            return Err(wasmtime::Error::new(HostLimitExceeded {
                what: "host calls",
                limit,
            }));
        }
        Ok(())
    }

    /// Whether one more log line fits in the event's budget.
    pub(crate) fn log_line_allowed(&mut self) -> bool {
        self.log_lines += 1;
        let allowed = self.log_lines <= self.plugin.limits.log_lines;
        if !allowed {
            self.logs_dropped += 1;
        }
        allowed
    }

    /// Carries out a call-control action. Time spent waiting for it does not count against
    /// the plugin's compute deadline.
    pub(crate) async fn perform(
        &mut self,
        action: CallAction,
    ) -> wasmtime::Result<Result<ActionOutput, CallError>> {
        self.host_call()?;
        self.actions += 1;
        let limit = self.plugin.limits.actions;
        if self.actions > limit {
            return Err(wasmtime::Error::new(HostLimitExceeded {
                what: "call-control actions",
                limit,
            }));
        }
        if let Err(reason) = self.plugin.policy.check(&action) {
            self.actions_denied += 1;
            tracing::warn!(plugin = %self.plugin.id, call_id = %self.origin.call_id, action = action.name(), %reason, "call-control action denied by policy");
            return Ok(Err(CallError::NotPermitted(reason)));
        }
        let started = Instant::now();
        let result = self.control.execute(&self.origin, action).await;
        self.extend_deadline(started.elapsed());
        Ok(result)
    }

    fn extend_deadline(&mut self, waited: Duration) {
        self.deadline += waited;
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
