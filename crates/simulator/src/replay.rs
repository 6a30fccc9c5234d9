//! Recorded traffic against the simulator: calls learnt from replayed notifications, and the
//! ids those notifications name (operations, calls the bot created) handed out again in
//! request order. Documents are read by the service's own notification parser, so whatever
//! the service accepts can be replayed.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;

use super::calls::SimCall;
use super::{SimShared, lock};
use callhost::call::{CallState, ChangeType};
use callhost::graph::notification::{self, CommsNotification, ResourceData, ResourceTarget};

/// The notifications of a recorded document, read as the service reads them.
fn notifications(document: &Value) -> Vec<CommsNotification> {
    serde_json::to_vec(document)
        .ok()
        .and_then(|body| notification::parse(&body).ok())
        .unwrap_or_default()
}

pub(crate) fn learn(shared: &Arc<SimShared>, document: &Value) {
    for n in notifications(document) {
        let Some(call_id) = n.call_id() else {
            continue;
        };
        let about_call = matches!(n.target, ResourceTarget::Call { .. });
        if about_call && n.change_type == ChangeType::Deleted {
            shared.calls.forget(call_id);
            continue;
        }
        let state = match (&n.target, &n.data) {
            (ResourceTarget::Call { .. }, ResourceData::Call(call)) => call.state.clone(),
            _ => None,
        };
        let state = state.map(|s| match CallState::from_graph(&s) {
            CallState::Unknown => s,
            known => known.as_str().to_owned(),
        });
        if shared.calls.state(call_id).is_none() {
            let data: Value = serde_json::from_str(&n.raw_resource_data).unwrap_or(Value::Null);
            let data = if about_call { data } else { Value::Null };
            shared
                .calls
                .insert(learnt_call(shared, call_id, state.as_deref(), &data));
        } else if let Some(state) = state {
            shared.calls.with(call_id, |c| c.state = state);
        }
    }
}

fn learnt_call(shared: &SimShared, id: &str, state: Option<&str>, data: &Value) -> SimCall {
    let text = |key: &str| data.get(key).and_then(Value::as_str);
    SimCall {
        id: id.to_string(),
        state: state.unwrap_or("established").to_string(),
        direction: if text("direction") == Some("outgoing") {
            "outgoing"
        } else {
            "incoming"
        },
        my_participant_id: text("myParticipantId")
            .map(String::from)
            .unwrap_or_else(|| shared.calls.new_id()),
        tone_subscribed: true,
        tone_sequence: 0,
        participants: Vec::new(),
        roster_sequence: 0,
        meeting: data.get("meetingInfo").cloned(),
        chat: data.get("chatInfo").cloned(),
        last_keepalive: Instant::now(),
        media: Vec::new(),
        parties: serde_json::json!({ "source": data.get("source"), "targets": data.get("targets") }),
    }
}

pub(crate) fn plan_ids(shared: &Arc<SimShared>, documents: &[Value]) {
    let mut planned = lock(&shared.planned_ids);
    let mut seen_calls = HashSet::new();
    for n in documents.iter().flat_map(notifications) {
        let Some(call_id) = n.call_id() else {
            continue;
        };
        if seen_calls.insert(call_id.to_string()) && !n.is_incoming_call() {
            planned
                .entry((String::new(), "call".into()))
                .or_default()
                .push_back(call_id.to_string());
        }
        let ResourceTarget::Operation { operation_id, .. } = &n.target else {
            continue;
        };
        let kind = match &n.data {
            ResourceData::Operation(op) => op.type_name().unwrap_or_default(),
            _ => "",
        };
        let queue = planned
            .entry((call_id.to_string(), kind.to_string()))
            .or_default();
        // A notification delivered twice names its operation twice.
        if !queue.iter().any(|id| id == operation_id) {
            queue.push_back(operation_id.clone());
        }
    }
}

/// The id of something new of `kind` on `call_id` (an operation type such as
/// `playPromptOperation`; `("", "call")` for a created call): the next planned one, else a
/// fresh id.
pub(crate) fn planned_id(shared: &Arc<SimShared>, call_id: &str, kind: &str) -> String {
    let key = (call_id.to_string(), kind.to_string());
    lock(&shared.planned_ids)
        .get_mut(&key)
        .and_then(|queue| queue.pop_front())
        .unwrap_or_else(|| shared.calls.new_id())
}
