//! Per-call tracking that turns Graph notifications into the events a workflow sees.
//!
//! Graph's payloads carry no id of their own, so real repeats (a second failed transfer, a
//! second return from hold, a third mute) look exactly like earlier notifications and are
//! delivered. What is recognised as old news uses real identity only: the message id of a
//! delivery posted twice, a tone's `sequenceId`, an operation's id and final status, a roster's
//! `rosterSequenceNumber`, and the call's own progress (a stale `establishing` after
//! `established`). Everything that yields no event is reported as [`Dropped`] with its reason.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Mutex;

use super::drops::DropReason;
use super::operation_context::{self, Place};
use crate::call::{
    CallEvent, CallEventKind, CallState, ChangeType, OperationCompleted, OperationKind,
    Participant, ParticipantsChanged, StateChanged,
};
use crate::graph::id::id_key;
use crate::graph::model::{self, odata_type_name};
use crate::graph::notification::{self as n, CommsNotification, ResourceData, ResourceTarget};

/// How many delivery ids are remembered to recognise a body posted twice.
const DELIVERY_WINDOW: usize = 256;

/// A notification, or part of one, that gave the workflow no event, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    pub reason: DropReason,
    pub detail: String,
}

/// What one notification meant.
#[derive(Debug, Default)]
pub struct Applied {
    pub events: Vec<CallEvent>,
    pub dropped: Vec<Dropped>,
}

/// The operations a plugin started on a call, by [`id_key`]: the id in the form the plugin
/// was given, and what kind of operation it is. Completions name operations in either form
/// and sometimes without `@odata.type`. After a restart, operations whose start was sent but
/// whose id was never stored are known by the place of their request instead (the mark on
/// their `clientContext`).
#[derive(Debug, Default)]
pub struct StartedOperations(Mutex<Started>);

#[derive(Debug, Default)]
struct Started {
    by_id: HashMap<String, (String, OperationKind)>,
    by_place: HashMap<Place, OperationKind>,
}

impl StartedOperations {
    pub fn insert(&self, id: &str, kind: OperationKind) {
        let mut started = self.0.lock().unwrap_or_else(|e| e.into_inner());
        started
            .by_id
            .insert(id_key(id).into_owned(), (id.to_owned(), kind));
    }

    /// An operation started by the request at `place`, whose id is not known.
    pub fn insert_unknown(&self, place: Place, kind: OperationKind) {
        let mut started = self.0.lock().unwrap_or_else(|e| e.into_inner());
        started.by_place.insert(place, kind);
    }

    /// The operation `id`, or else the one started by the request at `place`.
    fn take(&self, id: &str, place: Option<Place>) -> Option<(String, OperationKind)> {
        let mut started = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(known) = started.by_id.remove(id_key(id).as_ref()) {
            return Some(known);
        }
        let kind = started.by_place.remove(&place?)?;
        Some((id.to_owned(), kind))
    }
}

/// What the host knows of one call, updated by each notification.
#[derive(Debug)]
pub struct CallTracker {
    /// The state as the workflow last saw it (may be a state this version does not know).
    pub state: CallState,
    /// The last known state, which a stale setup state is judged against.
    progress: CallState,
    pub my_participant_id: Option<String>,
    /// Where Graph posts the call's notifications, as the call resource says.
    pub callback_uri: Option<String>,
    incoming_delivered: bool,
    roster: BTreeMap<String, Participant>,
    roster_sequence: Option<i64>,
    last_tone_sequence: Option<i64>,
    completed_operations: HashSet<String>,
    deliveries: HashSet<String>,
    delivery_order: VecDeque<String>,
}

impl CallTracker {
    pub fn new(state: CallState) -> Self {
        Self {
            state,
            progress: state,
            my_participant_id: None,
            callback_uri: None,
            incoming_delivered: false,
            roster: BTreeMap::new(),
            roster_sequence: None,
            last_tone_sequence: None,
            completed_operations: HashSet::new(),
            deliveries: HashSet::new(),
            delivery_order: VecDeque::new(),
        }
    }

    /// The events a notification means for the workflow, and what of it was dropped.
    pub fn apply(
        &mut self,
        notification: &CommsNotification,
        started: &StartedOperations,
    ) -> Applied {
        let mut applied = Applied::default();
        let dropped = &mut applied.dropped;
        if let Some(id) = &notification.delivery_id
            && !self.remember_delivery(id)
        {
            dropped.push(drop(
                DropReason::DuplicateDelivery,
                format!("message {id} was delivered before"),
            ));
            return applied;
        }
        if self.state.is_final() {
            dropped.push(drop(DropReason::CallEnded, "the call already ended"));
            return applied;
        }
        let change = notification.change_type;
        let kinds = match (&notification.target, &notification.data) {
            (ResourceTarget::Call { .. }, ResourceData::Call(call)) => {
                self.call_update(change, call, dropped)
            }
            (ResourceTarget::Call { .. }, _) if change == ChangeType::Deleted => {
                self.terminate(None, None)
            }
            // An incoming call whose resource is missing or did not parse is still a call
            // ringing at the bot: it reaches the plugin with what is known.
            (ResourceTarget::Call { .. }, ResourceData::Absent | ResourceData::Unparsed { .. })
                if change == ChangeType::Created =>
            {
                self.incoming(&model::Call::default(), dropped)
            }
            (ResourceTarget::Participants { .. }, ResourceData::Participants(list)) => {
                self.roster_update(notification, list, dropped)
            }
            (ResourceTarget::Operation { operation_id, .. }, ResourceData::Operation(op)) => {
                let completed = n::operation_completed(op, Some(operation_id));
                let odata_type = op.odata_type.as_deref().map(qualified_type);
                self.operation_update(change, completed, odata_type, started, dropped)
            }
            (ResourceTarget::Operation { operation_id, .. }, ResourceData::Absent)
                if change == ChangeType::Deleted =>
            {
                let completed = n::operation_completed(&Default::default(), Some(operation_id));
                self.operation_update(change, completed, None, started, dropped)
            }
            (target, data) => vec![CallEventKind::Other {
                resource_type: resource_type(data).or_else(|| type_of_path(target)),
            }],
        };
        applied.events = kinds
            .into_iter()
            .map(|kind| CallEvent {
                kind,
                change_type: notification.change_type,
                resource_url: notification.resource_url.clone(),
                raw: notification.raw_resource_data.clone(),
            })
            .collect();
        applied
    }

    /// An operation Graph reported as finished in the answer to the request that started it:
    /// no notification follows, so the host delivers its completion.
    pub fn operation_finished(&mut self, call_id: &str, mut op: OperationCompleted) -> Applied {
        let mut applied = Applied::default();
        op.client_context = operation_context::unmark(op.client_context.take()).1;
        if self.state.is_final() {
            return applied;
        }
        if !self
            .completed_operations
            .insert(id_key(&op.operation_id).into_owned())
        {
            return applied;
        }
        applied.events.push(CallEvent {
            resource_url: format!(
                "/communications/calls/{call_id}/operations/{}",
                op.operation_id
            ),
            kind: CallEventKind::OperationCompleted(op),
            change_type: ChangeType::Deleted,
            raw: "null".into(),
        });
        applied
    }

    /// A synthetic end, for a call Graph no longer knows (a 404 from keepAlive).
    pub fn end_locally(&mut self, result: crate::call::ResultInfo) -> Option<CallEvent> {
        if self.state.is_final() {
            return None;
        }
        let kind = self
            .terminate(Some(result), Some("CallNotFound".into()))
            .pop()?;
        Some(CallEvent {
            kind,
            change_type: ChangeType::Deleted,
            resource_url: String::new(),
            raw: "null".into(),
        })
    }

    /// Whether the delivery is new; remembers it.
    fn remember_delivery(&mut self, id: &str) -> bool {
        if !self.deliveries.insert(id.to_owned()) {
            return false;
        }
        self.delivery_order.push_back(id.to_owned());
        if self.delivery_order.len() > DELIVERY_WINDOW
            && let Some(old) = self.delivery_order.pop_front()
        {
            self.deliveries.remove(&old);
        }
        true
    }

    fn incoming(&mut self, call: &model::Call, dropped: &mut Vec<Dropped>) -> Vec<CallEventKind> {
        if self.incoming_delivered || self.state != CallState::Incoming {
            dropped.push(drop(
                DropReason::IncomingCallRepeated,
                "the incoming call was notified before",
            ));
            return Vec::new();
        }
        self.incoming_delivered = true;
        vec![CallEventKind::IncomingCall(n::incoming_call(call))]
    }

    fn call_update(
        &mut self,
        change: ChangeType,
        call: &model::Call,
        dropped: &mut Vec<Dropped>,
    ) -> Vec<CallEventKind> {
        if let Some(id) = call.my_participant_id() {
            self.my_participant_id = Some(id.to_string());
        }
        if let Some(uri) = call.callback_uri() {
            self.callback_uri = Some(uri.to_string());
        }
        let state = call.state();
        if change == ChangeType::Created && state.is_none_or(|s| s == CallState::Incoming) {
            return self.incoming(call, dropped);
        }
        let result = call.result_info.as_ref().map(n::result_info);
        if change == ChangeType::Deleted || state == Some(CallState::Terminated) {
            return self.terminate(result, call.termination_reason.clone());
        }
        let dropped_before = dropped.len();
        let mut kinds = Vec::new();
        match state {
            Some(new) if new != self.state && is_stale(self.progress, new) => {
                dropped.push(drop(
                    DropReason::StaleState,
                    format!(
                        "`{}` arrived after the call was `{}`",
                        new.as_str(),
                        self.progress.as_str()
                    ),
                ));
            }
            Some(new) if new != self.state => {
                let previous = std::mem::replace(&mut self.state, new);
                if new != CallState::Unknown {
                    self.progress = new;
                }
                kinds.push(CallEventKind::StateChanged(StateChanged {
                    state: new,
                    previous,
                    result,
                    termination_reason: call.termination_reason.clone(),
                }));
            }
            _ => {}
        }
        // A state update can carry a key press: both are delivered, the state first.
        if let Some(info) = &call.tone_info {
            self.tone(info, &mut kinds, dropped);
        }
        if kinds.is_empty() && dropped.len() == dropped_before {
            let odata_type = call.odata_type.as_deref().unwrap_or("call");
            kinds.push(CallEventKind::Other {
                resource_type: Some(qualified_type(odata_type)),
            });
        }
        kinds
    }

    fn tone(
        &mut self,
        info: &model::ToneInfo,
        kinds: &mut Vec<CallEventKind>,
        dropped: &mut Vec<Dropped>,
    ) {
        let Some(tone) = n::tone_received(info) else {
            dropped.push(drop(
                DropReason::UnknownTone,
                format!(
                    "tone {:?} is not a DTMF key",
                    info.tone.as_deref().unwrap_or("")
                ),
            ));
            return;
        };
        match (info.sequence_id, self.last_tone_sequence) {
            (Some(sequence), Some(last)) if sequence <= last => {
                dropped.push(drop(
                    DropReason::StaleTone,
                    format!("tone sequence {sequence} arrived after {last}"),
                ));
                return;
            }
            (Some(sequence), _) => self.last_tone_sequence = Some(sequence),
            // Without a sequence number a key press cannot be ordered; it is delivered.
            (None, _) => {}
        }
        kinds.push(CallEventKind::ToneReceived(tone));
    }

    fn terminate(
        &mut self,
        result: Option<crate::call::ResultInfo>,
        reason: Option<String>,
    ) -> Vec<CallEventKind> {
        let previous = std::mem::replace(&mut self.state, CallState::Terminated);
        self.progress = CallState::Terminated;
        vec![CallEventKind::StateChanged(StateChanged {
            state: CallState::Terminated,
            previous,
            result,
            termination_reason: reason,
        })]
    }

    fn roster_update(
        &mut self,
        notification: &CommsNotification,
        list: &[model::Participant],
        dropped: &mut Vec<Dropped>,
    ) -> Vec<CallEventKind> {
        let sequence = list.iter().filter_map(|p| p.roster_sequence_number).max();
        if let (Some(new), Some(last)) = (sequence, self.roster_sequence)
            && new < last
        {
            dropped.push(drop(
                DropReason::StaleRoster,
                format!("roster {new} arrived after roster {last}"),
            ));
            return Vec::new();
        }
        if sequence.is_some() {
            self.roster_sequence = sequence;
        }
        let me = self.my_participant_id.as_deref();
        let incoming: Vec<(String, Participant)> = list
            .iter()
            .enumerate()
            .map(|(index, p)| {
                let p = n::participant(p, me);
                (roster_key(&p, index), p)
            })
            .collect();
        let mut change = ParticipantsChanged {
            sequence_number: sequence,
            ..ParticipantsChanged::default()
        };
        let snapshot = notification
            .resource_url
            .trim_end_matches('/')
            .to_ascii_lowercase()
            .ends_with("participants");
        if notification.change_type == ChangeType::Deleted {
            for (key, p) in incoming {
                change.left.push(self.roster.remove(&key).unwrap_or(p));
            }
        } else {
            if snapshot {
                let keys: HashSet<&str> = incoming.iter().map(|(k, _)| k.as_str()).collect();
                let left: Vec<String> = self
                    .roster
                    .keys()
                    .filter(|key| !keys.contains(key.as_str()))
                    .cloned()
                    .collect();
                for key in left {
                    if let Some(p) = self.roster.remove(&key) {
                        change.left.push(p);
                    }
                }
            }
            for (key, p) in incoming {
                match self.roster.get(&key) {
                    None => change.joined.push(p.clone()),
                    Some(old) if old != &p => change.updated.push(p.clone()),
                    Some(_) => {}
                }
                self.roster.insert(key, p);
            }
        }
        if change.joined.is_empty() && change.left.is_empty() && change.updated.is_empty() {
            dropped.push(drop(
                DropReason::RosterUnchanged,
                "the roster is the same as before",
            ));
            return Vec::new();
        }
        vec![CallEventKind::ParticipantsChanged(change)]
    }

    fn operation_update(
        &mut self,
        change: ChangeType,
        mut completed: OperationCompleted,
        odata_type: Option<String>,
        started: &StartedOperations,
        dropped: &mut Vec<Dropped>,
    ) -> Vec<CallEventKind> {
        // A `deleted` operation is over, whatever status it reports (one capture: `unknown`).
        if !completed.status.is_final() && change != ChangeType::Deleted {
            return vec![CallEventKind::Other {
                resource_type: odata_type,
            }];
        }
        if !self
            .completed_operations
            .insert(id_key(&completed.operation_id).into_owned())
        {
            dropped.push(drop(
                DropReason::OperationAlreadyCompleted,
                format!("operation {} completed before", completed.operation_id),
            ));
            return Vec::new();
        }
        let (place, own) = operation_context::unmark(completed.client_context.take());
        completed.client_context = own;
        if let Some((id, kind)) = started.take(&completed.operation_id, place) {
            completed.operation_id = id;
            if completed.kind == OperationKind::Unknown {
                completed.kind = kind;
            }
        }
        vec![CallEventKind::OperationCompleted(completed)]
    }

    /// The current roster (for the admin API).
    pub fn roster(&self) -> impl Iterator<Item = &Participant> {
        self.roster.values()
    }
}

fn drop(reason: DropReason, detail: impl Into<String>) -> Dropped {
    Dropped {
        reason,
        detail: detail.into(),
    }
}

/// Who a roster entry is: its participant id; for invitees that have none yet, their
/// identity; for entries with neither, their place in the roster.
fn roster_key(p: &Participant, index: usize) -> String {
    if !p.participant_id.is_empty() {
        return p.participant_id.clone();
    }
    if !p.identity.id.is_empty() {
        return format!("{}:{}", p.identity.kind.as_str(), p.identity.id);
    }
    format!("#{index}")
}

/// An earlier setup state arriving after a later one (Graph may swap establishing and
/// established), judged against the last known state.
fn is_stale(progress: CallState, new: CallState) -> bool {
    fn setup_rank(state: CallState) -> Option<u8> {
        match state {
            CallState::Incoming => Some(0),
            CallState::Establishing => Some(1),
            _ => None,
        }
    }
    match (setup_rank(new), setup_rank(progress)) {
        (Some(new), Some(current)) => new < current,
        // A setup state after the call was set up is always stale.
        (Some(_), None) => true,
        _ => false,
    }
}

fn qualified_type(odata_type: &str) -> String {
    format!("#microsoft.graph.{}", odata_type_name(odata_type))
}

/// The type of the resources of a call's collection, from its URL, for resources that do not
/// say (`…/contentsharingsessions` holds `contentSharingSession`s).
fn type_of_path(target: &ResourceTarget) -> Option<String> {
    let ResourceTarget::Other { path, .. } = target else {
        return None;
    };
    let collection = path.split('/').next()?.to_ascii_lowercase();
    let name = match collection.as_str() {
        "contentsharingsessions" => "contentSharingSession",
        "audioroutinggroups" => "audioRoutingGroup",
        _ => return None,
    };
    Some(qualified_type(name))
}

/// The `@odata.type` of data that is not a call, roster or operation: of the object, or of
/// the first element of an array.
fn resource_type(data: &ResourceData) -> Option<String> {
    let ResourceData::Other(value) = data else {
        return None;
    };
    let sample = match value {
        serde_json::Value::Array(items) => items.first()?,
        other => other,
    };
    sample
        .get("@odata.type")
        .and_then(|t| t.as_str())
        .map(qualified_type)
}

#[cfg(test)]
mod tests;
