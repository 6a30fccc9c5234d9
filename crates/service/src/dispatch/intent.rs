//! At most once for the Graph requests a workflow makes that are not safe to repeat (answer,
//! transfer, play, …): each is written as an intent before it is sent and its result after.
//! When a journal entry is handled again after a restart, the plugin makes the same requests
//! in the same order; one whose result is stored gets that result without being sent, and one
//! whose outcome is unknown (sent, then the process stopped) is not sent again: the call is
//! checked with Graph first, and the plugin is told the outcome is unknown.

use std::future::Future;

use callhost_store::Intent;

use super::calls::{CallEntry, Work};
use super::{Shared, operation_context};
use crate::call::{ActionOrigin, ActionOutput, CallAction, CallError, OperationKind, ResultInfo};
use crate::storage::{Prior, decode_result, encode_result, now_ms};

/// Where a request stands in the handling of its call's journal: entry `seq`, request `idx`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Place {
    seq: u64,
    idx: u32,
}

impl Place {
    /// Puts the host's mark of this place on the request's `clientContext` (see
    /// [`super::operation_context`]), when the request starts an operation.
    pub(crate) fn mark(self, action: &mut CallAction) {
        if action.operation_kind().is_none() {
            return;
        }
        if let Some(context) = action.client_context_mut() {
            *context = operation_context::mark((self.seq, self.idx), context.take());
        }
    }
}

/// The place of `action` if it needs an intent: it is not safe to repeat, and it is made
/// while a journal entry is handled. Taken before the request leaves the plugin's task.
pub(crate) fn place(entry: &CallEntry, action: &CallAction) -> Option<Place> {
    if action.kind().is_idempotent() {
        return None;
    }
    entry.next_intent().map(|(seq, idx)| Place { seq, idx })
}

/// Sends a request through `send` unless its intent says it was made before.
pub(crate) async fn once<F, Fut>(
    shared: &Shared,
    entry: &CallEntry,
    place: Option<Place>,
    name: &str,
    operation: Option<OperationKind>,
    send: F,
) -> Result<ActionOutput, CallError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<ActionOutput, CallError>>,
{
    if !shared.ownership.may_act_for(entry) {
        tracing::warn!(call_id = %entry.call_id, action = name, "request not sent: this instance's leases may have lapsed (the store has not answered a renewal in time)");
        return Err(CallError::Other(format!(
            "`{name}` was not sent: this instance may no longer own the call"
        )));
    }
    let Some(place) = place else {
        return send().await;
    };
    let store = &shared.settings.store;
    let intent = Intent {
        call_id: entry.key.clone(),
        seq: place.seq,
        idx: place.idx,
        action: name.to_owned(),
        started_at_ms: now_ms(),
    };
    let prior = match store.begin_intent(intent).await {
        Ok(None) => Prior::New,
        Ok(Some(record)) => record
            .result
            .as_deref()
            .and_then(decode_result)
            .unwrap_or(Prior::Unknown),
        Err(e) => {
            tracing::error!(call_id = %entry.call_id, action = name, error = %e, "request not sent: its intent could not be stored");
            return Err(CallError::Other(format!(
                "`{name}` was not sent: it could not be recorded first ({e})"
            )));
        }
    };
    match prior {
        Prior::New => {
            let result = send().await;
            let text = encode_result(&result, operation);
            // Not waited for: a result lost to a crash makes the outcome unknown, and an
            // unknown outcome is never sent again.
            let finished = store.finish_intent(entry.key.clone(), place.seq, place.idx, text);
            let (call_id, action) = (entry.call_id.clone(), name.to_owned());
            tokio::spawn(async move {
                if let Err(e) = finished.await {
                    tracing::warn!(%call_id, %action, error = %e, "the request's result could not be stored; after a restart its outcome counts as unknown");
                }
            });
            result
        }
        Prior::Done { result, operation } => {
            tracing::info!(call_id = %entry.call_id, action = name, seq = place.seq, "request made before the restart: not sent again, its stored result is the answer");
            if let (Ok(ActionOutput::OperationId(id)), Some(kind)) = (&result, operation) {
                entry.operations.insert(id, kind);
            }
            result.map_err(CallError::Other)
        }
        Prior::Unknown => {
            tracing::warn!(call_id = %entry.call_id, action = name, seq = place.seq, "request sent before the restart with an unknown outcome: not sent again; checking the call with Graph");
            confirm_call(shared, entry).await;
            Err(CallError::Other(format!(
                "`{name}` was sent before a restart and its outcome is unknown; it is not sent again"
            )))
        }
    }
}

/// Asks Graph whether the call still exists (a keepAlive answers 404 when it does not); a
/// call Graph lost is ended for its plugin.
pub(crate) async fn confirm_call(shared: &Shared, entry: &CallEntry) {
    let origin = ActionOrigin {
        plugin_id: super::HOST_ORIGIN.into(),
        call_id: entry.call_id.clone(),
        tenant_id: entry.tenant_id(),
    };
    let probe = CallAction::KeepAlive {
        call_id: entry.call_id.clone(),
    };
    if let Err(CallError::NotFound) = shared.graph.execute(&origin, probe).await {
        tracing::info!(call_id = %entry.call_id, "Graph no longer knows the call; ending it as lost");
        entry.send(Work::EndLocally(lost()));
    }
}

/// The result of a call Graph lost while callhost was not running.
pub(crate) fn lost() -> ResultInfo {
    ResultInfo {
        code: 404,
        subcode: 0,
        message: Some(
            "The call was lost: Graph no longer knows it after callhost restarted.".into(),
        ),
    }
}
