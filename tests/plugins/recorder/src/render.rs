//! WIT values as the recorder's JSON: a record is an object with every field under its WIT
//! name (a missing option is `null`), a list is an array, a tuple is an array, an enum case or a
//! variant case without payload is its name as a string, and a variant case with a payload is
//! `{"<case>": <payload>}`.

use serde_json::{Value, json};

use crate::bindings::callhost::workflow::types::{
    CallContext, CallError, ChatInfo, Event, EventKind, Identity, IncomingCall, JoinMeetingIdInfo,
    MeetingInfo, MeetingInvite, OperationCompleted, Participant, ParticipantsChanged, ResultInfo,
    StateChanged, TonesCollected,
};
use crate::wit_enum::WitEnum;

pub fn call_context(call: &CallContext) -> Value {
    json!({
        "call-id": call.call_id,
        "direction": call.direction.wit_name(),
        "tenant-id": call.tenant_id,
        "state": call.state.wit_name(),
        "my-participant-id": call.my_participant_id,
        "bot-app-id": call.bot_app_id,
        "created-by-plugin": call.created_by_plugin,
    })
}

pub fn event(event: &Event) -> Value {
    json!({
        "kind": event_kind(&event.kind),
        "change-type": event.change_type.wit_name(),
        "resource-url": event.resource_url,
        "raw": event.raw,
    })
}

/// The name of the event's case, as the `on` config value names it.
pub fn event_kind_name(kind: &EventKind) -> &'static str {
    match kind {
        EventKind::IncomingCall(_) => "incoming-call",
        EventKind::StateChanged(_) => "state-changed",
        EventKind::ToneReceived(_) => "tone-received",
        EventKind::OperationCompleted(_) => "operation-completed",
        EventKind::ParticipantsChanged(_) => "participants-changed",
        EventKind::Other(_) => "other",
        EventKind::TimerFired(_) => "timer-fired",
        EventKind::TonesCollected(_) => "tones-collected",
    }
}

fn event_kind(kind: &EventKind) -> Value {
    let payload = match kind {
        EventKind::IncomingCall(call) => incoming_call(call),
        EventKind::StateChanged(change) => state_changed(change),
        EventKind::ToneReceived(tone) => json!({
            "tone": tone.tone.wit_name(),
            "sequence-id": tone.sequence_id,
        }),
        EventKind::OperationCompleted(operation) => operation_completed(operation),
        EventKind::ParticipantsChanged(change) => participants_changed(change),
        EventKind::Other(other) => json!({ "resource-type": other.resource_type }),
        EventKind::TimerFired(timer) => json!({
            "name": timer.name,
            "payload": timer.payload,
            "late-ms": timer.late_ms,
        }),
        EventKind::TonesCollected(collected) => tones_collected(collected),
    };
    json!({ event_kind_name(kind): payload })
}

fn tones_collected(collected: &TonesCollected) -> Value {
    json!({
        "digits": collected.digits,
        "reason": collected.reason.wit_name(),
        "terminator": collected.terminator.map(|t| t.wit_name()),
        "tries": collected.tries,
        "client-context": collected.client_context,
        "result": collected.result.as_ref().map(result_info),
    })
}

fn incoming_call(call: &IncomingCall) -> Value {
    json!({
        "caller": identity(&call.caller),
        "callees": list(&call.callees, identity),
        "requested-modalities": call.requested_modalities.iter().map(|m| m.wit_name()).collect::<Vec<_>>(),
        "meeting": call.meeting.as_ref().map(meeting_invite),
        "call-chain-id": call.call_chain_id,
    })
}

fn meeting_invite(invite: &MeetingInvite) -> Value {
    json!({
        "chat": invite.chat.as_ref().map(chat_info),
        "meeting": invite.meeting.as_ref().map(meeting_info),
    })
}

fn chat_info(chat: &ChatInfo) -> Value {
    json!({
        "thread-id": chat.thread_id,
        "message-id": chat.message_id,
        "reply-chain-message-id": chat.reply_chain_message_id,
    })
}

fn meeting_info(meeting: &MeetingInfo) -> Value {
    match meeting {
        MeetingInfo::Organizer(organizer) => json!({ "organizer": identity(organizer) }),
        MeetingInfo::Token(token) => json!({ "token": token }),
        MeetingInfo::JoinMeetingId(info) => {
            json!({ "join-meeting-id": join_meeting_id_info(info) })
        }
    }
}

fn join_meeting_id_info(info: &JoinMeetingIdInfo) -> Value {
    json!({
        "join-meeting-id": info.join_meeting_id,
        "passcode": info.passcode,
    })
}

fn state_changed(change: &StateChanged) -> Value {
    json!({
        "state": change.state.wit_name(),
        "previous": change.previous.wit_name(),
        "result": change.result.as_ref().map(result_info),
        "termination-reason": change.termination_reason,
    })
}

fn operation_completed(operation: &OperationCompleted) -> Value {
    json!({
        "operation-id": operation.operation_id,
        "kind": operation.kind.wit_name(),
        "status": operation.status.wit_name(),
        "client-context": operation.client_context,
        "result": operation.result.as_ref().map(result_info),
        "recording-location": operation.recording_location,
        "recording-access-token": operation.recording_access_token,
        "completion-reason": operation.completion_reason,
    })
}

fn participants_changed(change: &ParticipantsChanged) -> Value {
    json!({
        "joined": list(&change.joined, participant),
        "left": list(&change.left, participant),
        "updated": list(&change.updated, participant),
        "sequence-number": change.sequence_number,
    })
}

fn participant(participant: &Participant) -> Value {
    json!({
        "participant-id": participant.participant_id,
        "identity": identity(&participant.identity),
        "is-muted": participant.is_muted,
        "in-lobby": participant.in_lobby,
        "is-self": participant.is_self,
    })
}

fn result_info(result: &ResultInfo) -> Value {
    json!({
        "code": result.code,
        "subcode": result.subcode,
        "message": result.message,
    })
}

fn identity(identity: &Identity) -> Value {
    json!({
        "kind": identity.kind.wit_name(),
        "id": identity.id,
        "display-name": identity.display_name,
        "tenant-id": identity.tenant_id,
    })
}

pub fn call_error(error: &CallError) -> Value {
    match error {
        CallError::NotFound => json!("not-found"),
        CallError::Forbidden => json!("forbidden"),
        CallError::Throttled => json!("throttled"),
        CallError::Timeout => json!("timeout"),
        CallError::InvalidArgument(text) => json!({ "invalid-argument": text }),
        CallError::NotPermitted(text) => json!({ "not-permitted": text }),
        CallError::Other(text) => json!({ "other": text }),
        CallError::Upstream(upstream) => json!({
            "upstream": {
                "status": upstream.status,
                "code": upstream.code,
                "message": upstream.message,
            }
        }),
    }
}

/// `config.get-all`'s pairs, in the order the host gave them.
pub fn config(pairs: &[(String, String)]) -> Value {
    json!(pairs)
}

fn list<T>(items: &[T], render: fn(&T) -> Value) -> Value {
    items.iter().map(render).collect()
}
