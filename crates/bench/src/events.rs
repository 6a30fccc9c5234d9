//! Per-event cost of a plugin: a fresh instance plus one `on-event`, with a call control that
//! answers at once, so only the host and the plugin are measured.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use futures::future::BoxFuture;

use super::Stats;
use callhost::call::{
    ActionOrigin, ActionOutput, CallAction, CallContext, CallControl, CallDirection, CallError,
    CallEvent, CallEventKind, CallState, ChangeType, Identity, IncomingCall, Modality, Returns,
    StateChanged,
};
use callhost::runtime::{
    EventInput, MemoryStateStore, Outcome, PluginSpec, PluginVersion, Runtime, StateStore,
};

/// A call control that carries out nothing and answers at once.
pub struct NullControl;

impl CallControl for NullControl {
    fn execute<'a>(
        &'a self,
        _: &'a ActionOrigin,
        action: CallAction,
    ) -> BoxFuture<'a, Result<ActionOutput, CallError>> {
        Box::pin(async move {
            Ok(match action.kind().returns() {
                Returns::CallId => ActionOutput::CallId("call".into()),
                Returns::OperationId(_) => ActionOutput::OperationId("op".into()),
                Returns::Nothing => ActionOutput::Done,
            })
        })
    }
}

pub(super) fn context(call_id: &str, state: CallState) -> CallContext {
    CallContext {
        call_id: call_id.into(),
        direction: CallDirection::Incoming,
        tenant_id: Some("tenant".into()),
        state,
        my_participant_id: None,
        bot_app_id: "bot".into(),
        created_by_plugin: false,
    }
}

/// The incoming-call event every workflow handles first.
pub fn incoming_call_event(call_id: &str) -> CallEvent {
    CallEvent {
        kind: CallEventKind::IncomingCall(IncomingCall {
            caller: Identity::user("caller"),
            callees: vec![Identity::application("bot")],
            requested_modalities: vec![Modality::Audio],
            meeting: None,
            call_chain_id: None,
        }),
        change_type: ChangeType::Created,
        resource_url: format!("/communications/calls/{call_id}"),
        raw: "{}".into(),
    }
}

pub(super) fn established_event(call_id: &str) -> CallEvent {
    CallEvent {
        kind: CallEventKind::StateChanged(StateChanged {
            state: CallState::Established,
            previous: CallState::Establishing,
            result: None,
            termination_reason: None,
        }),
        change_type: ChangeType::Updated,
        resource_url: format!("/communications/calls/{call_id}"),
        raw: "{}".into(),
    }
}

/// Loads a plugin with the configuration the example workflows read.
pub fn load_example(runtime: &Runtime, id: &str, path: &Path) -> anyhow::Result<PluginVersion> {
    let mut spec = PluginSpec::new(id);
    for (k, v) in [
        ("greeting", "https://media.example.com/greeting.wav"),
        ("menu", "https://media.example.com/menu.wav"),
        ("info", "https://media.example.com/info.wav"),
        ("goodbye", "https://media.example.com/goodbye.wav"),
        ("sales", "user:5e3ce6c0-2b1f-4285-8d4b-75ee78787346"),
        ("operator", "user:6f5a4bc1-3c2e-4396-9e5c-86ff89898457"),
    ] {
        spec.config.insert(k.into(), v.into());
    }
    Ok(runtime.load(spec, &std::fs::read(path)?)?)
}

/// Runs `iterations` incoming-call and established events through `plugin`, each in a fresh
/// instance; returns the statistics of each kind.
pub async fn plugin_event_costs(
    runtime: &Runtime,
    plugin: &PluginVersion,
    iterations: usize,
) -> anyhow::Result<(Stats, Stats)> {
    let control: Arc<dyn CallControl> = Arc::new(NullControl);
    let state: Arc<dyn StateStore> = Arc::new(MemoryStateStore::new());
    let mut incoming = Vec::with_capacity(iterations);
    let mut established = Vec::with_capacity(iterations);
    let warmup = (iterations / 10).max(10);
    for i in 0..warmup + iterations {
        let call_id = format!("call-{i}");
        for (event, state_now, samples) in [
            (
                incoming_call_event(&call_id),
                CallState::Incoming,
                &mut incoming,
            ),
            (
                established_event(&call_id),
                CallState::Established,
                &mut established,
            ),
        ] {
            let started = Instant::now();
            let invocation = runtime
                .invoke(
                    plugin,
                    EventInput {
                        call: context(&call_id, state_now),
                        event,
                        control: control.clone(),
                        state: state.clone(),
                        timers: Default::default(),
                    },
                )
                .await;
            let took = started.elapsed();
            if invocation.outcome != Outcome::Completed {
                anyhow::bail!(
                    "plugin {} did not complete an event: {:?}",
                    plugin.info.id,
                    invocation.outcome
                );
            }
            if i >= warmup {
                samples.push(took);
            }
        }
        state.drop_call(&call_id);
    }
    Ok((
        Stats::from_samples(&mut incoming),
        Stats::from_samples(&mut established),
    ))
}
