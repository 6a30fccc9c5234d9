//! What the admin API reads from the store: ended calls, and stored state.

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::{CallRecord, Store, StoreError};
use crate::call::Identity;
use crate::graph::notification::{self, ResourceData};

/// An ended call as `GET /admin/calls?ended=true` lists it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EndedCall {
    pub call_id: String,
    pub tenant_id: String,
    pub direction: String,
    /// Who called, for an incoming call (from its first notification).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caller: Option<Identity>,
    pub route: Option<String>,
    pub plugin: String,
    /// The version the call was pinned to (the first digits of its component's SHA-256).
    pub plugin_version: String,
    pub created_by_plugin: bool,
    pub started_at_ms: i64,
    pub ended_at_ms: Option<i64>,
    pub duration_ms: Option<i64>,
    /// How it ended: `terminated 0/4097: …`, or how callhost decided it.
    pub end_reason: Option<String>,
    /// The bot's participant id in the call, as Graph gave it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub my_participant_id: Option<String>,
    /// Where Graph posted the call's notifications, as the call resource said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback_uri: Option<String>,
}

/// The `limit` most recently ended calls.
pub async fn ended_calls(store: &dyn Store, limit: usize) -> Result<Vec<EndedCall>, StoreError> {
    let mut calls = Vec::new();
    for record in store.ended_calls(limit).await? {
        let caller = match record.direction.as_str() {
            "incoming" => caller(store, &record).await?,
            _ => None,
        };
        calls.push(ended(record, caller));
    }
    Ok(calls)
}

fn ended(record: CallRecord, caller: Option<Identity>) -> EndedCall {
    let mut version = record.plugin_version;
    version.truncate(12);
    EndedCall {
        call_id: record.graph_id,
        tenant_id: record.tenant_id,
        direction: record.direction,
        caller,
        route: record.route,
        plugin: record.plugin,
        plugin_version: version,
        created_by_plugin: record.created_by_plugin,
        started_at_ms: record.created_at_ms,
        duration_ms: record.ended_at_ms.map(|end| end - record.created_at_ms),
        ended_at_ms: record.ended_at_ms,
        end_reason: record.end_reason,
        my_participant_id: record.my_participant_id,
        callback_uri: record.callback_uri,
    }
}

async fn caller(store: &dyn Store, record: &CallRecord) -> Result<Option<Identity>, StoreError> {
    let entries = store.entries(record.call_id.clone(), 0).await?;
    let first = entries
        .iter()
        .flat_map(|e| notification::parse(&e.body).unwrap_or_default())
        .find(|n| n.is_incoming_call());
    Ok(first.and_then(|n| match &n.data {
        ResourceData::Call(call) => Some(notification::incoming_call(call).caller),
        _ => None,
    }))
}

/// A stored state scope as JSON: each value as text when it is UTF-8, else as base64.
pub async fn state_json(store: &dyn Store, scope: String) -> Result<Value, StoreError> {
    use base64::Engine as _;
    let mut values = Map::new();
    for (key, value) in store.state_scope(scope).await? {
        let value = match String::from_utf8(value) {
            Ok(text) => Value::String(text),
            Err(e) => {
                json!({ "base64": base64::engine::general_purpose::STANDARD.encode(e.into_bytes()) })
            }
        };
        values.insert(key, value);
    }
    Ok(Value::Object(values))
}
