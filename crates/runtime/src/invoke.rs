//! One event, one fresh instance: instantiate, call `on-event`, classify how it ended, drop.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use wasmtime::{CallHook, Store, UpdateDeadline};

use super::convert;
use super::engine::Runtime;
use super::event_ctx::{EventCtx, EventCtxParts};
use super::outcome::{Outcome, classify_trap};
use super::output;
use super::plugin::{PluginInfo, PluginVersion};
use super::state_store::{MemoryStateStore, StateQuota, StateScope, StateStore, StateTxn};
use super::timers::{TimerTxn, TimerView};
use callhost_call::{
    ActionOrigin, ActionOutput, CallAction, CallContext, CallControl, CallError, CallEvent,
    TimerRequest,
};

/// Limits of the call scope of the state interface.
const CALL_STATE_QUOTA: StateQuota = StateQuota {
    max_key_bytes: 256,
    max_scope_bytes: 1 << 20,
};
/// Limits of the plugin scope of the state interface.
const PLUGIN_STATE_QUOTA: StateQuota = StateQuota {
    max_key_bytes: 256,
    max_scope_bytes: 16 << 20,
};

/// What one invocation needs besides the plugin.
pub struct EventInput {
    pub call: CallContext,
    pub event: CallEvent,
    /// Carries out the plugin's call-control actions.
    pub control: Arc<dyn CallControl>,
    /// Where call and plugin state live.
    pub state: Arc<dyn StateStore>,
    /// The call's timers and tone collection as the event starts.
    pub timers: TimerView,
}

/// How one invocation went.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub plugin: Arc<PluginInfo>,
    pub outcome: Outcome,
    /// From the request for an instance slot to the store's drop.
    pub duration: Duration,
    /// Log lines over the per-event limit.
    pub logs_dropped: u32,
    /// Call-control requests the plugin's policy refused.
    pub actions_denied: u32,
    /// What the plugin asked of its call's timers and tone collection, in order; empty
    /// unless it returned.
    pub timers: Vec<TimerRequest>,
}

impl Runtime {
    /// Runs `plugin` for one event in a fresh store. Never fails: every way the plugin can end
    /// is an [`Outcome`]. State writes are committed only when the plugin returned.
    pub async fn invoke(&self, plugin: &PluginVersion, input: EventInput) -> Invocation {
        let started = Instant::now();
        let info = plugin.info.clone();
        // A closed semaphore is never produced (it is never closed); treat it as no limit.
        let _permit = self.permits().acquire().await.ok();
        let origin = ActionOrigin {
            plugin_id: info.id.clone(),
            call_id: input.call.call_id.clone(),
            tenant_id: input.call.tenant_id.clone(),
        };
        let mut store = self.event_store(&info, origin, input.control, input.state, input.timers);

        let limits = &info.limits;
        let call = convert::call_context(&input.call);
        let event = convert::event(&input.event);
        let run = async {
            let workflow = plugin
                .pre
                .instantiate_async(&mut store)
                .await
                .map_err(Failure::Instantiate)?;
            workflow
                .callhost_workflow_handler()
                .call_on_event(&mut store, &call, &event)
                .await
                .map_err(Failure::Trap)
        };
        let result = match tokio::time::timeout(limits.wall_timeout, run).await {
            Ok(result) => result,
            Err(_elapsed) => Err(Failure::WallTimeout),
        };
        let ctx = store.data();
        let stdout = ctx.stdout.take();
        let stderr = ctx.stderr.take();
        let outcome = match result {
            Ok(Ok(())) => Outcome::Completed,
            Ok(Err(message)) => Outcome::Failed { message },
            Err(Failure::WallTimeout) => Outcome::Timeout {
                limit_ms: limits.wall_timeout.as_millis() as u64,
            },
            Err(Failure::Instantiate(error)) => Outcome::InstantiationFailed {
                message: format!("{error:#}"),
            },
            Err(Failure::Trap(error)) => classify_trap(
                &error,
                ctx.limiter.memory_exhausted,
                limits.memory_bytes,
                limits.deadline,
            ),
        };
        let outcome = match outcome {
            Outcome::Trap { message, backtrace } => Outcome::Trap {
                message: match output::panic_message(&stderr.0) {
                    Some(panic) => format!("{message}: plugin panicked: {panic}"),
                    None => message,
                },
                backtrace,
            },
            other => other,
        };
        let call_id = input.call.call_id.as_str();
        output::emit("stdout", &stdout, &info.id, call_id);
        output::emit("stderr", &stderr, &info.id, call_id);
        let logs_dropped = ctx.log_lines.dropped;
        let actions_denied = ctx.actions.denied;
        if logs_dropped > 0 {
            tracing::warn!(plugin = %info.id, call_id, dropped = logs_dropped, "plugin log lines over the per-event limit were dropped");
        }
        let ctx = store.into_data();
        let mut timers = Vec::new();
        if outcome.returned() {
            ctx.call_state.commit();
            ctx.plugin_state.commit();
            timers = ctx.timers.into_requests();
        }
        Invocation {
            plugin: info,
            outcome,
            duration: started.elapsed(),
            logs_dropped,
            actions_denied,
            timers,
        }
    }

    /// Instantiates `plugin` once in a throwaway store, without calling it: catches what only
    /// instantiation reveals (memory or tables over the plugin's limits, a start function that
    /// traps) before a version is put in service.
    pub async fn probe(&self, plugin: &PluginVersion) -> Result<(), String> {
        let info = plugin.info.clone();
        let _permit = self.permits().acquire().await.ok();
        let origin = ActionOrigin {
            plugin_id: info.id.clone(),
            call_id: PROBE_CALL_ID.into(),
            tenant_id: None,
        };
        let control = Arc::new(ProbeControl);
        let state = Arc::new(MemoryStateStore::new());
        let mut store = self.event_store(&info, origin, control, state, TimerView::default());
        let instantiate = plugin.pre.instantiate_async(&mut store);
        match tokio::time::timeout(info.limits.wall_timeout, instantiate).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(format!("cannot be instantiated: {e:#}")),
            Err(_) => Err(format!(
                "instantiation did not finish within limits.wall_timeout_ms ({} ms)",
                info.limits.wall_timeout.as_millis()
            )),
        }
    }

    /// A fresh store for one event of `info`'s plugin, with its limits and deadline.
    fn event_store(
        &self,
        info: &Arc<PluginInfo>,
        origin: ActionOrigin,
        control: Arc<dyn CallControl>,
        state: Arc<dyn StateStore>,
        timers: TimerView,
    ) -> Store<EventCtx> {
        let plugin_id: Arc<str> = info.id.as_str().into();
        let call_scope = StateScope::Call {
            plugin: plugin_id.clone(),
            call_id: origin.call_id.as_str().into(),
        };
        let timers = TimerTxn::new(origin.call_id.clone(), timers);
        let parts = EventCtxParts {
            timers,
            plugin: info.clone(),
            origin,
            control,
            outbound: self.outbound().clone(),
            call_state: StateTxn::new(state.clone(), call_scope, CALL_STATE_QUOTA),
            plugin_state: StateTxn::new(
                state,
                StateScope::Plugin { plugin: plugin_id },
                PLUGIN_STATE_QUOTA,
            ),
        };
        let mut store = Store::new(self.engine(), EventCtx::new(parts));
        store.limiter(|ctx| &mut ctx.limiter);
        store.call_hook(|mut ctx, hook| {
            match hook {
                CallHook::CallingHost => ctx.data_mut().in_host(true),
                CallHook::ReturningFromHost => ctx.data_mut().in_host(false),
                CallHook::CallingWasm | CallHook::ReturningFromWasm => {}
            }
            Ok(())
        });
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|ctx| {
            if Instant::now() >= ctx.data().deadline {
                Ok(UpdateDeadline::Interrupt)
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
        store
    }
}

/// The call id a probe instantiation runs under.
const PROBE_CALL_ID: &str = "probe";

/// The call control of a probe: nothing is carried out.
struct ProbeControl;

impl CallControl for ProbeControl {
    fn execute<'a>(
        &'a self,
        _origin: &'a ActionOrigin,
        action: CallAction,
    ) -> BoxFuture<'a, Result<ActionOutput, CallError>> {
        let refusal = format!("`{}` during a probe instantiation", action.name());
        Box::pin(async move { Err(CallError::NotPermitted(refusal)) })
    }
}

/// Why an invocation did not return.
enum Failure {
    /// No instance: pool exhaustion, a memory the limiter refused at start, a trapping start.
    Instantiate(wasmtime::Error),
    /// `on-event` trapped or was interrupted.
    Trap(wasmtime::Error),
    /// The wall-clock bound passed (for example while blocked in a host call).
    WallTimeout,
}
