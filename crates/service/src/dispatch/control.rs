//! The call control plugins get: acts only on calls the plugin owns, records decisions on
//! incoming calls, and registers the calls a plugin creates as its own.

use std::sync::Arc;

use futures::future::BoxFuture;

use super::calls::{NewCall, Work};
use super::{Shared, intent};
use crate::call::{
    ActionOrigin, ActionOutput, CallAction, CallControl, CallDirection, CallError, HttpExchange,
};
use crate::journal::JournalRecord;
use crate::runtime::PluginVersion;

/// [`CallControl`] for plugin invocations, in front of the Graph client.
pub struct PluginControl {
    shared: Arc<Shared>,
}

impl PluginControl {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }
}

impl CallControl for PluginControl {
    fn fetched(&self, origin: &ActionOrigin, started: std::time::Instant, exchange: HttpExchange) {
        let journal = &self.shared.settings.journal;
        journal.record(
            &origin.call_id,
            started,
            JournalRecord::HttpRequest(exchange),
        );
    }

    fn execute<'a>(
        &'a self,
        origin: &'a ActionOrigin,
        action: CallAction,
    ) -> BoxFuture<'a, Result<ActionOutput, CallError>> {
        Box::pin(async move {
            let shared = &self.shared;
            let Some(call_id) = action.call_id().map(str::to_string) else {
                let version = shared.plugins.current(&origin.plugin_id).ok_or_else(|| {
                    CallError::Other(format!("plugin `{}` is not loaded", origin.plugin_id))
                })?;
                // Made while handling one of the plugin's calls: at most once, like its other
                // requests.
                let parent = shared
                    .calls
                    .get(&origin.call_id)
                    .filter(|entry| entry.plugin_id == origin.plugin_id);
                let Some(parent) = parent else {
                    return create_call(shared, version, action)
                        .await
                        .map(ActionOutput::CallId);
                };
                let place = intent::place(&parent, &action);
                let name = action.name();
                return intent::once(shared, &parent, place, name, None, || async {
                    create_call(shared, version, action)
                        .await
                        .map(ActionOutput::CallId)
                })
                .await;
            };
            let entry = shared
                .calls
                .get(&call_id)
                .filter(|entry| entry.plugin_id == origin.plugin_id)
                .ok_or(CallError::NotFound)?;
            if !entry.allow_action() {
                let limits = &shared.settings.limits;
                tracing::warn!(call_id = %entry.call_id, plugin = %origin.plugin_id, action = action.name(), per_second = limits.actions_per_second, burst = limits.action_burst, "plugin's Graph request refused: over the call's action rate (calls.actions_per_second, calls.action_burst)");
                return Err(CallError::Throttled);
            }
            // One decision per incoming call: a deciding request holds it while in flight.
            let ticket = match action.kind().decides_incoming_call()
                && entry.direction == CallDirection::Incoming
            {
                true => Some(entry.decision.begin().map_err(CallError::NotPermitted)?),
                false => None,
            };
            let target_origin = ActionOrigin {
                plugin_id: origin.plugin_id.clone(),
                call_id: call_id.clone(),
                tenant_id: entry.tenant_id().or_else(|| origin.tenant_id.clone()),
            };
            let kind = action.operation_kind();
            let place = intent::place(&entry, &action);
            let mut action = action;
            if let Some(place) = place {
                place.mark(&mut action);
            }
            let name = action.name();
            let output = match ticket {
                // Its own task: a plugin that times out while Graph is answering does not
                // abandon the answer; the decision stays held until Graph's reply.
                Some(ticket) => {
                    let shared = shared.clone();
                    let entry = entry.clone();
                    let request = tokio::spawn(async move {
                        let graph = shared.graph.clone();
                        let send = || graph.execute(&target_origin, action);
                        let output = intent::once(&shared, &entry, place, name, kind, send).await;
                        if output.is_ok() {
                            ticket.decided();
                        }
                        output
                    });
                    request.await.map_err(|e| {
                        CallError::Other(format!("the deciding request failed: {e}"))
                    })??
                }
                None => {
                    let send = || shared.graph.execute(&target_origin, action);
                    intent::once(shared, &entry, place, name, kind, send).await?
                }
            };
            Ok(match output {
                // The completion comes through the call's queue, after the current event.
                ActionOutput::Finished(completed) => {
                    let id = completed.operation_id.clone();
                    entry.send(Work::OperationFinished(completed));
                    ActionOutput::OperationId(id)
                }
                ActionOutput::OperationId(id) => {
                    if let Some(kind) = kind {
                        entry.operations.insert(&id, kind);
                    }
                    ActionOutput::OperationId(id)
                }
                other => other,
            })
        })
    }
}

/// Creates a call for `version`'s plugin and starts tracking it.
pub(crate) async fn create_call(
    shared: &Arc<Shared>,
    version: PluginVersion,
    action: CallAction,
) -> Result<String, CallError> {
    let tenant_id = match &action {
        CallAction::JoinMeeting(join) => join.tenant_id.clone(),
        CallAction::PlaceCall(place) => place.tenant_id.clone(),
        other => {
            return Err(CallError::InvalidArgument(format!(
                "`{}` does not create a call",
                other.name()
            )));
        }
    };
    let origin = ActionOrigin {
        plugin_id: version.info.id.clone(),
        call_id: String::new(),
        tenant_id: tenant_id.clone(),
    };
    let in_flight = shared.calls.creation_started();
    let output = shared.graph.execute(&origin, action).await;
    drop(in_flight);
    let output = match output {
        Ok(output) => output,
        Err(CallError::Timeout) => {
            // Graph may have created the call; if it did, its notifications find no owner.
            shared.calls.note_uncertain_creation();
            return Err(CallError::Timeout);
        }
        Err(e) => return Err(e),
    };
    let ActionOutput::CallId(call_id) = output else {
        return Err(CallError::Other(
            "Graph returned no call id for the new call".into(),
        ));
    };
    shared.calls.register(
        shared.clone(),
        NewCall {
            call_id: call_id.clone(),
            version,
            route: None,
            direction: CallDirection::Outgoing,
            tenant_id,
            created_by_plugin: true,
        },
        None,
    );
    Ok(call_id)
}
