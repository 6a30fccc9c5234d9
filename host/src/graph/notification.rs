//! Graph's call-callback notifications: the `commsNotifications` envelope, the resource each
//! notification is about (routed by `resourceUrl`), and its typed `resourceData`.
//!
//! Parsing is pure and never panics. Turning notifications into call events (roster diffs,
//! state tracking) is the dispatcher's job; [`convert`] offers the per-resource conversions.

mod convert;
#[cfg(test)]
mod lenient_tests;
mod route;
#[cfg(test)]
mod tests;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

pub use convert::{
    chat_info, identity, incoming_call, meeting_info, meeting_invite, modality,
    operation_completed, participant, result_info, tone_received,
};
pub use route::ResourceTarget;

use super::model::{Call, CommsOperation, Participant, odata_kind, odata_type_name};
use crate::call::ChangeType;

/// Why a callback body yields no notifications.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotificationError {
    /// Not JSON, or a `commsNotifications` document of the wrong shape.
    #[error("malformed callback body: {0}")]
    Malformed(String),
    /// Valid JSON but not a `#microsoft.graph.commsNotifications` document, such as the
    /// legacy-format first notification of a call. Answer `204 No Content` and Graph sends it
    /// again in the Graph format.
    #[error("callback body is not a #microsoft.graph.commsNotifications document")]
    NotCommsNotifications,
}

/// One notification of a callback body.
#[derive(Debug, Clone, PartialEq)]
pub struct CommsNotification {
    pub change_type: ChangeType,
    /// The URL routed on: `resourceUrl`, or the legacy `resource` when that is missing.
    pub resource_url: String,
    pub target: ResourceTarget,
    pub data: ResourceData,
    /// `resourceData` as compact JSON text; `null` when absent.
    pub raw_resource_data: String,
    /// The callback URI Graph names in the notification, when it does.
    pub callback_uri: Option<String>,
}

impl CommsNotification {
    /// The call the notification is about, when its URL names one.
    pub fn call_id(&self) -> Option<&str> {
        self.target.call_id()
    }
}

/// The typed `resourceData` of a notification.
#[derive(Debug, Clone, PartialEq)]
pub enum ResourceData {
    /// No `resourceData` (or `null`); only the URL says what happened.
    Absent,
    Call(Box<Call>),
    /// A roster: every participant Graph listed (one for a single-participant resource).
    Participants(Vec<Participant>),
    Operation(Box<CommsOperation>),
    /// A resource this module does not model, such as content-sharing sessions.
    Other(Value),
    /// `resourceData` did not fit the type its URL or `@odata.type` promised.
    Unparsed {
        error: String,
    },
}

/// Parses a callback body into its notifications, in the order Graph sent them.
pub fn parse(body: &[u8]) -> Result<Vec<CommsNotification>, NotificationError> {
    let document: Value =
        serde_json::from_slice(body).map_err(|e| NotificationError::Malformed(e.to_string()))?;
    let Value::Object(document) = document else {
        return Err(NotificationError::NotCommsNotifications);
    };
    let entries = envelope_entries(&document)?;
    entries
        .iter()
        .enumerate()
        .map(|(index, entry)| parse_entry(index, entry))
        .collect()
}

/// The `value` array of a `commsNotifications` document. A document without `@odata.type` is
/// accepted when every entry has a `resourceUrl`, which the legacy format never has.
fn envelope_entries(document: &Map<String, Value>) -> Result<&[Value], NotificationError> {
    let value = document.get("value").and_then(Value::as_array);
    let odata_type = document
        .get("@odata.type")
        .and_then(Value::as_str)
        .map(odata_type_name);
    match odata_type.map(str::to_ascii_lowercase).as_deref() {
        Some("commsnotifications") => value.map(Vec::as_slice).ok_or_else(|| {
            NotificationError::Malformed("commsNotifications without a `value` array".into())
        }),
        Some(_) => Err(NotificationError::NotCommsNotifications),
        None => match value {
            Some(entries)
                if !entries.is_empty()
                    && entries
                        .iter()
                        .all(|e| e.get("resourceUrl").is_some_and(Value::is_string)) =>
            {
                Ok(entries)
            }
            _ => Err(NotificationError::NotCommsNotifications),
        },
    }
}

fn parse_entry(index: usize, entry: &Value) -> Result<CommsNotification, NotificationError> {
    let Value::Object(entry) = entry else {
        return Err(NotificationError::Malformed(format!(
            "notification {index} is not a JSON object"
        )));
    };
    let text = |key: &str| {
        entry
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
    };
    let resource_url = text("resourceUrl")
        .or_else(|| text("resource"))
        .unwrap_or_default()
        .to_owned();
    let target = ResourceTarget::route(&resource_url);
    let raw = entry.get("resourceData").unwrap_or(&Value::Null);
    Ok(CommsNotification {
        change_type: ChangeType::from_graph(text("changeType").unwrap_or_default()),
        data: typed_data(raw, &target),
        raw_resource_data: serde_json::to_string(raw).unwrap_or_else(|_| "null".into()),
        callback_uri: text("callbackUri").map(str::to_owned),
        resource_url,
        target,
    })
}

/// What a resource is, from its `@odata.type`, else from the URL it came with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Call,
    Participant,
    Operation,
    Other,
}

fn kind_of(sample: Option<&Value>, target: &ResourceTarget) -> Kind {
    match sample.and_then(odata_kind).as_deref() {
        Some("call") => Kind::Call,
        Some("participant") => Kind::Participant,
        Some(t) if t.ends_with("operation") => Kind::Operation,
        Some(_) => Kind::Other,
        None => match target {
            ResourceTarget::Call { .. } => Kind::Call,
            ResourceTarget::Participants { .. } => Kind::Participant,
            ResourceTarget::Operation { .. } => Kind::Operation,
            ResourceTarget::Other { .. } | ResourceTarget::Unrouted { .. } => Kind::Other,
        },
    }
}

fn typed_data(raw: &Value, target: &ResourceTarget) -> ResourceData {
    match raw {
        Value::Null => ResourceData::Absent,
        Value::Array(items) => match kind_of(items.first(), target) {
            Kind::Participant => typed(raw, ResourceData::Participants),
            _ => ResourceData::Other(raw.clone()),
        },
        Value::Object(_) => match kind_of(Some(raw), target) {
            Kind::Call => typed(raw, |call| ResourceData::Call(Box::new(call))),
            Kind::Participant => typed(raw, |one| ResourceData::Participants(vec![one])),
            Kind::Operation => typed(raw, |op| ResourceData::Operation(Box::new(op))),
            Kind::Other => ResourceData::Other(raw.clone()),
        },
        _ => ResourceData::Unparsed {
            error: "resourceData is neither an object nor an array".into(),
        },
    }
}

fn typed<T: DeserializeOwned>(raw: &Value, wrap: impl FnOnce(T) -> ResourceData) -> ResourceData {
    match T::deserialize(raw) {
        Ok(value) => wrap(value),
        Err(e) => ResourceData::Unparsed {
            error: e.to_string(),
        },
    }
}
