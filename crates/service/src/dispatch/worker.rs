//! The worker of one call: takes its notifications in order, runs the plugin for each event,
//! applies the fallback when an incoming call was left undecided, and releases everything
//! when the call ends.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::mpsc;

use super::calls::{CallEntry, Work};
use super::control::PluginControl;
use super::fallback::{ANNOUNCE_CONTEXT, Fallback};
use super::tracker::CallTracker;
use super::{HOST_ORIGIN, Shared, keepalive};
use crate::call::{ActionOrigin, CallAction, CallContext, CallEvent, CallEventKind, CallState};
use crate::journal::{InvocationRecord, JournalRecord, event_name};
use crate::runtime::{EventInput, Outcome};

/// Who drives the call.
enum Mode {
    Plugin,
    /// The fallback answered and plays its prompt; the plugin gets no more events.
    Announce {
        operation: Option<String>,
    },
}

pub(crate) async fn run(
    shared: Arc<Shared>,
    entry: Arc<CallEntry>,
    initial_state: CallState,
    mut rx: mpsc::UnboundedReceiver<Work>,
) {
    let control: Arc<PluginControl> = Arc::new(PluginControl::new(shared.clone()));
    let mut tracker = CallTracker::new(initial_state);
    tracker.tenant_id = entry.tenant_id();
    let mut mode = Mode::Plugin;
    let mut keeping_alive = false;
    while let Some(work) = rx.recv().await {
        let events = match work {
            Work::Notification(notification) => {
                let applied = tracker.apply(&notification, &entry.operations);
                for dropped in &applied.dropped {
                    let resource = &notification.resource_url;
                    let (reason, detail) = (dropped.reason, &dropped.detail);
                    shared
                        .metrics
                        .dropped(&entry.call_id, resource, reason, detail);
                }
                applied.events
            }
            Work::EndLocally(result) => tracker.end_locally(result).into_iter().collect(),
            Work::OperationFinished(completed) => {
                tracker.operation_finished(&entry.call_id, completed).events
            }
        };
        entry.set_tenant_id(tracker.tenant_id.clone());
        for event in events {
            if let CallEventKind::StateChanged(change) = &event.kind {
                entry.set_state(change.state);
                if change.state == CallState::Established && !keeping_alive {
                    keeping_alive = true;
                    keepalive::spawn(shared.clone(), entry.clone());
                }
            }
            match &mut mode {
                Mode::Plugin => {
                    let incoming = matches!(event.kind, CallEventKind::IncomingCall(_));
                    let outcome = deliver(&shared, &entry, &control, &tracker, event).await;
                    if incoming
                        && !entry.decided.load(Ordering::SeqCst)
                        && let Some(fallback) = entry.route.as_ref().map(|r| r.fallback.clone())
                    {
                        apply_fallback(&shared, &entry, &fallback, outcome.as_ref()).await;
                        if matches!(fallback, Fallback::Announce(_)) {
                            mode = Mode::Announce { operation: None };
                        }
                    }
                }
                Mode::Announce { operation } => announce(&shared, &entry, operation, &event).await,
            }
        }
        if tracker.state.is_final() {
            // Before the work counts as done: once drained, the journal is complete.
            shared.settings.journal.call_ended(&entry.call_id);
        }
        entry.work_done();
        if tracker.state.is_final() {
            break;
        }
    }
    shared.calls.remove(&entry.call_id);
    shared.state.drop_call(&entry.call_id);
    // Count what is still queued as handled: the call is over.
    while rx.try_recv().is_ok() {
        entry.work_done();
    }
    tracing::debug!(call_id = %entry.call_id, "call released");
}

/// Runs the plugin for one event. For an incoming call, within the route's decision budget.
async fn deliver(
    shared: &Arc<Shared>,
    entry: &Arc<CallEntry>,
    control: &Arc<PluginControl>,
    tracker: &CallTracker,
    event: CallEvent,
) -> Option<Outcome> {
    let input = EventInput {
        call: CallContext {
            call_id: entry.call_id.clone(),
            direction: entry.direction,
            tenant_id: entry.tenant_id(),
            state: tracker.state,
            my_participant_id: tracker.my_participant_id.clone(),
            bot_app_id: shared.settings.bot_app_id.clone(),
            created_by_plugin: entry.created_by_plugin,
        },
        event,
        control: control.clone(),
        state: shared.state.clone(),
    };
    let budget = match (&input.event.kind, &entry.route) {
        (CallEventKind::IncomingCall(_), Some(route)) => Some(route.decision_budget),
        _ => None,
    };
    let version = entry.version_for_event();
    let event = event_name(&input.event.kind);
    let started = std::time::Instant::now();
    let journal = |duration, outcome| {
        let record = InvocationRecord {
            plugin: entry.plugin_id.clone(),
            version: version.info.version().to_string(),
            event: event.to_string(),
            duration,
            outcome,
        };
        let journal = &shared.settings.journal;
        journal.record(&entry.call_id, started, JournalRecord::Invocation(record));
    };
    let invocation = shared.runtime.invoke(&version, input);
    let invocation = match budget {
        Some(budget) => match tokio::time::timeout(budget, invocation).await {
            Ok(invocation) => invocation,
            Err(_) => {
                tracing::warn!(call_id = %entry.call_id, plugin = %entry.plugin_id, budget_ms = budget.as_millis() as u64, "plugin did not decide on the incoming call within the route's budget");
                shared.metrics.event(false);
                let limit_ms = budget.as_millis() as u64;
                journal(budget, Outcome::Timeout { limit_ms });
                return None;
            }
        },
        None => invocation.await,
    };
    journal(invocation.duration, invocation.outcome.clone());
    let completed = invocation.outcome == Outcome::Completed;
    shared.metrics.event(completed);
    shared.metrics.denied(invocation.actions_denied);
    version.served(&invocation);
    if !completed {
        tracing::warn!(call_id = %entry.call_id, plugin = %entry.plugin_id, version = invocation.plugin.version(), outcome = ?invocation.outcome, "plugin invocation did not complete");
    }
    Some(invocation.outcome)
}

async fn apply_fallback(
    shared: &Arc<Shared>,
    entry: &Arc<CallEntry>,
    fallback: &Fallback,
    outcome: Option<&Outcome>,
) {
    shared.metrics.fallback();
    let why = match outcome {
        None => "decision budget exceeded".to_string(),
        Some(Outcome::Completed) => {
            "plugin returned without answering, rejecting or redirecting".to_string()
        }
        Some(Outcome::Failed { message }) => {
            format!("plugin returned an error without deciding: {message}")
        }
        Some(outcome) => format!("plugin invocation ended with {}", outcome.kind()),
    };
    tracing::warn!(call_id = %entry.call_id, plugin = %entry.plugin_id, fallback = fallback.name(), reason = %why, "applying the route's fallback");
    let record = JournalRecord::Fallback {
        fallback: fallback.name().to_string(),
        reason: why,
    };
    let now = std::time::Instant::now();
    shared.settings.journal.record(&entry.call_id, now, record);
    let origin = host_origin(entry);
    if let Err(e) = shared
        .graph
        .execute(&origin, fallback.first_action(&entry.call_id))
        .await
    {
        tracing::error!(call_id = %entry.call_id, error = %e, "the fallback's request failed");
    }
}

/// The announce fallback: play the prompt once established, hang up when it completed.
async fn announce(
    shared: &Arc<Shared>,
    entry: &Arc<CallEntry>,
    operation: &mut Option<String>,
    event: &CallEvent,
) {
    let Some(Fallback::Announce(prompt)) = entry.route.as_ref().map(|r| &r.fallback) else {
        return;
    };
    let origin = host_origin(entry);
    let call_id = entry.call_id.clone();
    let action = match &event.kind {
        CallEventKind::StateChanged(s)
            if s.state == CallState::Established && operation.is_none() =>
        {
            CallAction::PlayPrompt {
                call_id,
                prompts: vec![prompt.clone()],
                client_context: Some(ANNOUNCE_CONTEXT.into()),
            }
        }
        CallEventKind::OperationCompleted(op)
            if Some(&op.operation_id) == operation.as_ref()
                || op.client_context.as_deref() == Some(ANNOUNCE_CONTEXT) =>
        {
            CallAction::HangUp { call_id }
        }
        _ => return,
    };
    match shared.graph.execute(&origin, action).await {
        Ok(crate::call::ActionOutput::OperationId(id)) => *operation = Some(id),
        // The prompt finished as it started: nothing more will come for it.
        Ok(crate::call::ActionOutput::Finished(_)) => {
            let hang_up = CallAction::HangUp {
                call_id: entry.call_id.clone(),
            };
            if let Err(e) = shared.graph.execute(&origin, hang_up).await {
                tracing::error!(call_id = %entry.call_id, error = %e, "the announce fallback's hang-up failed");
            }
        }
        Ok(_) => {}
        Err(e) => {
            tracing::error!(call_id = %entry.call_id, error = %e, "the announce fallback's request failed")
        }
    }
}

fn host_origin(entry: &CallEntry) -> ActionOrigin {
    ActionOrigin {
        plugin_id: HOST_ORIGIN.into(),
        call_id: entry.call_id.clone(),
        tenant_id: entry.tenant_id(),
    }
}
