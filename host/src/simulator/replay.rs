//! Recorded traffic against the simulator: calls learnt from replayed notifications, and the
//! ids those notifications name (operations, calls the bot created) handed out again in
//! request order.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;

use super::calls::SimCall;
use super::{SimShared, lock};

/// The call id and what follows it (`""`, `/operations/<id>`, `/participants`) in a
/// notification's `resourceUrl`.
fn split_resource(url: &str) -> Option<(&str, &str)> {
    let rest = url.split("/calls/").nth(1)?;
    let (call, tail) = rest.split_once('/').map_or((rest, ""), |(c, t)| (c, t));
    (!call.is_empty()).then_some((call, tail))
}

fn entries(document: &Value) -> impl Iterator<Item = &Value> {
    document
        .get("value")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

fn resource_url(entry: &Value) -> &str {
    entry
        .get("resourceUrl")
        .or_else(|| entry.get("resource"))
        .and_then(Value::as_str)
        .unwrap_or_default()
}

pub(crate) fn learn(shared: &Arc<SimShared>, document: &Value) {
    for entry in entries(document) {
        let Some((call_id, tail)) = split_resource(resource_url(entry)) else {
            continue;
        };
        let data = entry.get("resourceData").unwrap_or(&Value::Null);
        let deleted = entry.get("changeType").and_then(Value::as_str) == Some("deleted");
        if tail.is_empty() && deleted {
            shared.calls.forget(call_id);
            continue;
        }
        let state = data
            .get("state")
            .and_then(Value::as_str)
            .filter(|_| tail.is_empty());
        if shared.calls.state(call_id).is_none() {
            shared
                .calls
                .insert(learnt_call(shared, call_id, state, data));
        } else if let Some(state) = state {
            shared.calls.with(call_id, |c| c.state = state.to_string());
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
    for entry in documents.iter().flat_map(entries) {
        let Some((call_id, tail)) = split_resource(resource_url(entry)) else {
            continue;
        };
        if seen_calls.insert(call_id.to_string()) && !is_incoming_call(entry) {
            planned
                .entry((String::new(), "call".into()))
                .or_default()
                .push_back(call_id.to_string());
        }
        let Some(operation_id) = tail.strip_prefix("operations/") else {
            continue;
        };
        let kind = entry
            .pointer("/resourceData/@odata.type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .trim_start_matches("#microsoft.graph.");
        let queue = planned
            .entry((call_id.to_string(), kind.to_string()))
            .or_default();
        // A notification delivered twice names its operation twice.
        if !queue.iter().any(|id| id == operation_id) {
            queue.push_back(operation_id.to_string());
        }
    }
}

/// Whether a notification is the `created` one of an incoming call.
fn is_incoming_call(entry: &Value) -> bool {
    entry.get("changeType").and_then(Value::as_str) == Some("created")
        && entry
            .pointer("/resourceData/state")
            .and_then(Value::as_str)
            .is_none_or(|s| s == "incoming")
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

#[cfg(test)]
mod tests {
    use super::split_resource;

    #[test]
    fn resource_urls_name_the_call_and_the_rest() {
        assert_eq!(split_resource("/communications/calls/c1"), Some(("c1", "")));
        assert_eq!(
            split_resource("/communications/calls/c1/operations/o1"),
            Some(("c1", "operations/o1"))
        );
        assert_eq!(
            split_resource("/app/calls/c1/participants"),
            Some(("c1", "participants"))
        );
        assert_eq!(split_resource("/communications/calls/"), None);
    }
}
