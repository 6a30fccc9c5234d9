//! Per-call tracking that turns Graph notifications into the events a workflow sees: drops
//! duplicates, hides a stale `establishing` after `established`, keeps tones in order, and
//! diffs roster snapshots into joined / left / updated.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};

use crate::call::{
    CallEvent, CallEventKind, CallState, ChangeType, OperationCompleted, Participant,
    ParticipantsChanged, StateChanged,
};
use crate::graph::model::odata_type_name;
use crate::graph::notification::{self as n, CommsNotification, ResourceData, ResourceTarget};

/// How many recent notifications are remembered to drop duplicates.
const DEDUPE_WINDOW: usize = 512;

/// What the host knows of one call, updated by each notification.
#[derive(Debug)]
pub struct CallTracker {
    pub state: CallState,
    pub my_participant_id: Option<String>,
    pub tenant_id: Option<String>,
    roster: BTreeMap<String, Participant>,
    roster_sequence: Option<i64>,
    last_tone_sequence: Option<i64>,
    completed_operations: HashSet<String>,
    seen: HashSet<u64>,
    seen_order: VecDeque<u64>,
}

impl CallTracker {
    pub fn new(state: CallState) -> Self {
        Self {
            state,
            my_participant_id: None,
            tenant_id: None,
            roster: BTreeMap::new(),
            roster_sequence: None,
            last_tone_sequence: None,
            completed_operations: HashSet::new(),
            seen: HashSet::new(),
            seen_order: VecDeque::new(),
        }
    }

    /// The events a notification means for the workflow; empty for duplicates and stale news.
    pub fn apply(&mut self, notification: &CommsNotification) -> Vec<CallEvent> {
        if self.state.is_final() || self.is_duplicate(notification) {
            return Vec::new();
        }
        let kinds = match (&notification.target, &notification.data) {
            (ResourceTarget::Call { .. }, ResourceData::Call(call)) => {
                self.call_update(notification.change_type, call)
            }
            (ResourceTarget::Call { .. }, _) if notification.change_type == ChangeType::Deleted => {
                self.terminate(None, None)
            }
            (ResourceTarget::Participants { .. }, ResourceData::Participants(list)) => {
                self.roster_update(notification, list)
            }
            (ResourceTarget::Operation { operation_id, .. }, ResourceData::Operation(op)) => {
                self.operation_update(operation_id, op)
            }
            (_, data) => vec![CallEventKind::Other {
                resource_type: resource_type(data),
            }],
        };
        kinds
            .into_iter()
            .map(|kind| CallEvent {
                kind,
                change_type: notification.change_type,
                resource_url: notification.resource_url.clone(),
                raw: notification.raw_resource_data.clone(),
            })
            .collect()
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

    fn is_duplicate(&mut self, notification: &CommsNotification) -> bool {
        let mut hasher = DefaultHasher::new();
        notification.change_type.hash(&mut hasher);
        notification.resource_url.hash(&mut hasher);
        notification.raw_resource_data.hash(&mut hasher);
        let key = hasher.finish();
        if !self.seen.insert(key) {
            return true;
        }
        self.seen_order.push_back(key);
        if self.seen_order.len() > DEDUPE_WINDOW
            && let Some(old) = self.seen_order.pop_front()
        {
            self.seen.remove(&old);
        }
        false
    }

    fn call_update(
        &mut self,
        change: ChangeType,
        call: &crate::graph::model::Call,
    ) -> Vec<CallEventKind> {
        if let Some(id) = call.my_participant_id() {
            self.my_participant_id = Some(id.to_string());
        }
        if let Some(tenant) = call.tenant_id() {
            self.tenant_id = Some(tenant.to_string());
        }
        let state = call.state();
        if change == ChangeType::Created
            && state.is_none_or(|s| s == CallState::Incoming)
            && self.state == CallState::Incoming
        {
            return vec![CallEventKind::IncomingCall(n::incoming_call(call))];
        }
        let result = call.result_info.as_ref().map(n::result_info);
        if change == ChangeType::Deleted || state == Some(CallState::Terminated) {
            return self.terminate(result, call.termination_reason.clone());
        }
        let mut kinds = Vec::new();
        if let Some(tone) = call.tone_info.as_ref().and_then(n::tone_received)
            && self
                .last_tone_sequence
                .is_none_or(|last| tone.sequence_id > last)
        {
            self.last_tone_sequence = Some(tone.sequence_id);
            kinds.push(CallEventKind::ToneReceived(tone));
        }
        match state {
            Some(new) if new != self.state && !is_stale(self.state, new) => {
                let previous = std::mem::replace(&mut self.state, new);
                kinds.push(CallEventKind::StateChanged(StateChanged {
                    state: new,
                    previous,
                    result,
                    termination_reason: call.termination_reason.clone(),
                }));
            }
            _ if kinds.is_empty() && call.tone_info.is_none() => kinds.push(CallEventKind::Other {
                resource_type: call.odata_type.as_deref().map(String::from),
            }),
            _ => {}
        }
        kinds
    }

    fn terminate(
        &mut self,
        result: Option<crate::call::ResultInfo>,
        reason: Option<String>,
    ) -> Vec<CallEventKind> {
        let previous = std::mem::replace(&mut self.state, CallState::Terminated);
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
        list: &[crate::graph::model::Participant],
    ) -> Vec<CallEventKind> {
        let sequence = list.iter().filter_map(|p| p.roster_sequence_number).max();
        if let (Some(new), Some(last)) = (sequence, self.roster_sequence)
            && new < last
        {
            return Vec::new();
        }
        if sequence.is_some() {
            self.roster_sequence = sequence;
        }
        let me = self.my_participant_id.as_deref();
        let incoming: Vec<Participant> = list.iter().map(|p| n::participant(p, me)).collect();
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
            for p in incoming {
                if let Some(gone) = self.roster.remove(&p.participant_id) {
                    change.left.push(gone);
                } else {
                    change.left.push(p);
                }
            }
        } else {
            let ids: HashSet<&str> = incoming.iter().map(|p| p.participant_id.as_str()).collect();
            if snapshot {
                let left: Vec<String> = self
                    .roster
                    .keys()
                    .filter(|id| !ids.contains(id.as_str()))
                    .cloned()
                    .collect();
                for id in left {
                    if let Some(p) = self.roster.remove(&id) {
                        change.left.push(p);
                    }
                }
            }
            for p in incoming {
                match self.roster.get(&p.participant_id) {
                    None => change.joined.push(p.clone()),
                    Some(old) if old != &p => change.updated.push(p.clone()),
                    Some(_) => {}
                }
                self.roster.insert(p.participant_id.clone(), p);
            }
        }
        if change.joined.is_empty() && change.left.is_empty() && change.updated.is_empty() {
            return Vec::new();
        }
        vec![CallEventKind::ParticipantsChanged(change)]
    }

    fn operation_update(
        &mut self,
        operation_id: &str,
        op: &crate::graph::model::CommsOperation,
    ) -> Vec<CallEventKind> {
        let completed: OperationCompleted = n::operation_completed(op, Some(operation_id));
        if !completed.status.is_final() {
            return vec![CallEventKind::Other {
                resource_type: op.odata_type.as_deref().map(String::from),
            }];
        }
        if !self
            .completed_operations
            .insert(completed.operation_id.clone())
        {
            return Vec::new();
        }
        vec![CallEventKind::OperationCompleted(completed)]
    }

    /// The current roster (for the admin API).
    pub fn roster(&self) -> impl Iterator<Item = &Participant> {
        self.roster.values()
    }
}

/// An earlier state arriving after a later one (Graph may swap establishing and established).
fn is_stale(current: CallState, new: CallState) -> bool {
    fn setup_rank(state: CallState) -> Option<u8> {
        match state {
            CallState::Incoming => Some(0),
            CallState::Establishing => Some(1),
            _ => None,
        }
    }
    match (setup_rank(new), setup_rank(current)) {
        (Some(new), Some(current)) => new < current,
        // A setup state after the call was set up is always stale.
        (Some(_), None) => true,
        _ => false,
    }
}

fn resource_type(data: &ResourceData) -> Option<String> {
    match data {
        ResourceData::Other(value) => value
            .get("@odata.type")
            .and_then(|t| t.as_str())
            .map(|t| format!("#microsoft.graph.{}", odata_type_name(t))),
        _ => None,
    }
}
