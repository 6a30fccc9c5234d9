//! Graph's call-callback notifications: the `commsNotifications` envelope, the resource each
//! notification is about (routed by `resourceUrl`), and its typed `resourceData`.
//!
//! Parsing is pure and never panics. Turning notifications into call events (roster diffs,
//! state tracking) is the dispatcher's job; [`convert`] offers the per-resource conversions.

mod convert;
mod keys;
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
use callhost_call::ChangeType;

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
    /// `resourceData` as compact JSON text (PascalCase keys in camelCase); `null` when absent.
    pub raw_resource_data: String,
    /// The callback URI Graph names in the notification, when it does.
    pub callback_uri: Option<String>,
    /// Identifies this delivery when Graph said which message it is
    /// (`X-Microsoft-Skype-Message-ID`), so that a body posted twice is recognised; see
    /// [`parse_delivery`].
    pub delivery_id: Option<String>,
}

impl CommsNotification {
    /// The call the notification is about, when its URL names one.
    pub fn call_id(&self) -> Option<&str> {
        self.target.call_id()
    }

    /// What recognises this notification when Graph sends it again, where that is certain:
    /// Graph's message id and the notification's place in the body when the delivery named
    /// one; else a tone's `sequenceId`; else an operation's id and status. `None` for the
    /// rest: a call's state may repeat for real (a failed transfer goes `transferring` →
    /// `established` twice) and a roster repeats whole, so their copies are told apart by
    /// the call tracker, which knows what came before, not by their text.
    pub fn dedupe_key(&self) -> Option<String> {
        if let Some(delivery) = &self.delivery_id {
            return Some(format!("delivery:{delivery}"));
        }
        match (&self.data, &self.target) {
            (ResourceData::Call(call), _) => {
                let tone = call.tone_info.as_ref()?;
                Some(format!("tone:{}", tone.sequence_id?))
            }
            (ResourceData::Operation(op), target) => {
                let id = op
                    .id
                    .as_deref()
                    .filter(|id| !id.is_empty())
                    .or(match target {
                        ResourceTarget::Operation { operation_id, .. } => {
                            Some(operation_id.as_str())
                        }
                        _ => None,
                    })?;
                let status = op.status.as_deref().unwrap_or("");
                Some(format!("operation:{id}:{status}"))
            }
            _ => None,
        }
    }

    /// The notification as a `commsNotifications` document of its own, with `resourceData` as
    /// it was read, for journals and replays.
    pub fn envelope(&self) -> Value {
        let mut entry = serde_json::json!({
            "@odata.type": "#microsoft.graph.commsNotification",
            "changeType": self.change_type,
            "resourceUrl": self.resource_url,
        });
        if let Some(uri) = &self.callback_uri {
            entry["callbackUri"] = Value::from(uri.as_str());
        }
        let data: Value = serde_json::from_str(&self.raw_resource_data).unwrap_or(Value::Null);
        if !data.is_null() {
            entry["resourceData"] = data;
        }
        serde_json::json!({ "@odata.type": "#microsoft.graph.commsNotifications", "value": [entry] })
    }

    /// Whether this is the `created` notification of an incoming call: a call resource created
    /// in state `incoming` (or with no state), also when its resource is missing or did not
    /// parse. Calls the bot creates are known from the answer to the create request.
    pub fn is_incoming_call(&self) -> bool {
        matches!(self.target, ResourceTarget::Call { .. })
            && self.change_type == ChangeType::Created
            && match &self.data {
                ResourceData::Call(call) => call
                    .state()
                    .is_none_or(|s| s == callhost_call::CallState::Incoming),
                ResourceData::Absent | ResourceData::Unparsed { .. } => true,
                ResourceData::Participants(_)
                | ResourceData::Operation(_)
                | ResourceData::Other(_) => false,
            }
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
    parse_delivery(body, None)
}

/// [`parse`], for a body Graph sent with the message id `message_id`: each notification gets
/// a [`CommsNotification::delivery_id`] made of the message id and its place in the body.
///
/// Graph's payloads vary in shape and the parser takes all of them: a `value` array with or
/// without the envelope's `@odata.type`; keys in PascalCase (`MeetingUrl`); the legacy
/// `resource` in place of `resourceUrl`; `resourceData` as an object, an array (one
/// notification per call or operation it holds; a roster stays one), or absent.
pub fn parse_delivery(
    body: &[u8],
    message_id: Option<&str>,
) -> Result<Vec<CommsNotification>, NotificationError> {
    let document: Value =
        serde_json::from_slice(body).map_err(|e| NotificationError::Malformed(e.to_string()))?;
    let Value::Object(mut document) = document else {
        return Err(NotificationError::NotCommsNotifications);
    };
    if keys::has_pascal_case(&document) {
        keys::lower_first(&mut document);
    }
    let entries = envelope_entries(&document)?;
    let mut notifications = Vec::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        let delivery = message_id.map(|id| format!("{id}#{index}"));
        parse_entry(index, entry, delivery, &mut notifications)?;
    }
    Ok(notifications)
}

/// The `value` array of a `commsNotifications` document. The envelope's `@odata.type` varies
/// (`#microsoft.graph.commsNotifications`, `#Microsoft.Graph.Notifications` in 2018, or
/// none): what matters is a `value` array whose entries name their resource the Graph way
/// ([`names_its_resource`]). A document typed `commsNotifications` is taken as such whatever
/// its entries are.
fn envelope_entries(document: &Map<String, Value>) -> Result<&[Value], NotificationError> {
    let value = document.get("value").and_then(Value::as_array);
    let odata_type = document
        .get("@odata.type")
        .and_then(Value::as_str)
        .map(odata_type_name);
    if odata_type.is_some_and(|t| t.eq_ignore_ascii_case("commsnotifications")) {
        return value.map(Vec::as_slice).ok_or_else(|| {
            NotificationError::Malformed("commsNotifications without a `value` array".into())
        });
    }
    match value {
        Some(entries) if !entries.is_empty() && entries.iter().all(names_its_resource) => {
            Ok(entries)
        }
        _ => Err(NotificationError::NotCommsNotifications),
    }
}

/// Whether an entry of a bare `value` array is a Graph notification: it names its resource
/// (`resourceUrl`, or `resource` as 2018–2020 traffic does) and is not a pre-Graph
/// subscription notification (`subscriptionId`).
fn names_its_resource(entry: &Value) -> bool {
    let has = |key: &str| entry.get(key).is_some_and(Value::is_string);
    has("resourceUrl") || (has("resource") && entry.get("subscriptionId").is_none())
}

fn parse_entry(
    index: usize,
    entry: &Value,
    delivery: Option<String>,
    out: &mut Vec<CommsNotification>,
) -> Result<(), NotificationError> {
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
    let notification = |data, raw: &Value, delivery| CommsNotification {
        change_type: ChangeType::from_graph(text("changeType").unwrap_or_default()),
        data,
        raw_resource_data: serde_json::to_string(raw).unwrap_or_else(|_| "null".into()),
        callback_uri: text("callbackUri").map(str::to_owned),
        resource_url: resource_url.clone(),
        target: target.clone(),
        delivery_id: delivery,
    };
    let raw = entry.get("resourceData").unwrap_or(&Value::Null);
    match raw {
        // A call or an operation sent as an array: one notification for each.
        Value::Array(items) if !items.is_empty() && !is_collection(items, &target) => {
            for (sub, item) in items.iter().enumerate() {
                let delivery = match (&delivery, items.len()) {
                    (Some(id), n) if n > 1 => Some(format!("{id}.{sub}")),
                    (id, _) => id.clone(),
                };
                out.push(notification(typed_data(item, &target), item, delivery));
            }
        }
        _ => out.push(notification(typed_data(raw, &target), raw, delivery)),
    }
    Ok(())
}

/// Whether an array `resourceData` is one collection resource (a roster, content-sharing
/// sessions) rather than single resources sent as an array.
fn is_collection(items: &[Value], target: &ResourceTarget) -> bool {
    !matches!(kind_of(items.first(), target), Kind::Call | Kind::Operation)
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
            Kind::Call | Kind::Operation if items.is_empty() => ResourceData::Absent,
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
