//! Pure conversions from the wire model into the call domain ([`callhost_call`]), one resource
//! at a time.

use crate::model::{self, Call, CommsOperation, GraphIdentity, IdentitySet, MeetingInfo, ToneInfo};
use callhost_call::{
    self as call, ChatInfo, Identity, IdentityKind, IncomingCall, MeetingInvite, Modality,
    OperationCompleted, OperationKind, OperationStatus, Tone, ToneReceived,
};

/// The identity an identity set names, picking the most specific kind present:
/// application instance and phone before guest, user and application, encrypted last. Kinds
/// the domain has no name for (device, on-premises, …) become [`IdentityKind::Unknown`].
/// An identity with an id wins over one without.
pub fn identity(set: &IdentitySet) -> Option<Identity> {
    let candidates = [
        (IdentityKind::ApplicationInstance, &set.application_instance),
        (IdentityKind::Phone, &set.phone),
        (IdentityKind::Guest, &set.guest),
        (IdentityKind::User, &set.user),
        (IdentityKind::Application, &set.application),
        (
            IdentityKind::Unknown,
            &set.azure_communication_services_user,
        ),
        (IdentityKind::Unknown, &set.on_premises),
        (IdentityKind::Unknown, &set.asserted_identity),
        (IdentityKind::Unknown, &set.device),
        (IdentityKind::Encrypted, &set.encrypted),
    ];
    let present = || {
        candidates
            .iter()
            .filter_map(|(kind, id)| Some((*kind, id.as_ref()?)))
    };
    present()
        .find(|(_, id)| non_empty(&id.id).is_some())
        .or_else(|| present().next())
        .map(|(kind, id)| domain_identity(kind, id))
}

fn domain_identity(kind: IdentityKind, id: &GraphIdentity) -> Identity {
    Identity {
        kind,
        id: id.id.clone().unwrap_or_default(),
        display_name: non_empty(&id.display_name).map(str::to_owned),
        tenant_id: non_empty(&id.tenant_id).map(str::to_owned),
    }
}

fn lower_first(value: &str) -> String {
    let mut chars = value.chars();
    chars
        .next()
        .map(|first| first.to_ascii_lowercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.trim().is_empty())
}

fn unknown_party() -> Identity {
    Identity::new(IdentityKind::Unknown, "")
}

/// A modality in any letter case; `None` for values the domain does not know.
pub fn modality(value: &str) -> Option<Modality> {
    match value.to_ascii_lowercase().as_str() {
        "audio" => Some(Modality::Audio),
        "video" => Some(Modality::Video),
        "videobasedscreensharing" => Some(Modality::VideoBasedScreenSharing),
        "data" => Some(Modality::Data),
        _ => None,
    }
}

/// A `created` incoming call resource as the event a workflow gets. A caller Graph does not
/// name becomes an unknown identity with an empty id.
pub fn incoming_call(call: &Call) -> IncomingCall {
    let caller = call
        .source
        .as_ref()
        .and_then(|s| s.identity.as_ref())
        .and_then(identity);
    IncomingCall {
        caller: caller.unwrap_or_else(unknown_party),
        callees: call
            .targets
            .iter()
            .filter_map(|t| t.identity.as_ref().and_then(identity))
            .collect(),
        requested_modalities: call
            .requested_modalities
            .iter()
            .filter_map(|m| modality(m))
            .collect(),
        meeting: meeting_invite(call),
        call_chain_id: call.call_chain_id().map(str::to_owned),
    }
}

/// The meeting a call belongs to, when it carries `chatInfo` or a known `meetingInfo`.
pub fn meeting_invite(call: &Call) -> Option<MeetingInvite> {
    let chat = call.chat_info.as_ref().and_then(chat_info);
    let meeting = call.meeting_info.as_ref().and_then(meeting_info);
    (chat.is_some() || meeting.is_some()).then_some(MeetingInvite { chat, meeting })
}

/// A chat thread; `None` without a thread id.
pub fn chat_info(chat: &model::ChatInfo) -> Option<ChatInfo> {
    Some(ChatInfo {
        thread_id: non_empty(&chat.thread_id)?.to_owned(),
        message_id: chat.message_id.clone().unwrap_or_default(),
        reply_chain_message_id: non_empty(&chat.reply_chain_message_id).map(str::to_owned),
    })
}

/// How a meeting is identified; `None` for kinds the domain does not know or that lack their
/// key field.
pub fn meeting_info(info: &MeetingInfo) -> Option<call::MeetingInfo> {
    match info {
        MeetingInfo::Organizer(o) => o
            .organizer
            .as_ref()
            .and_then(identity)
            .map(call::MeetingInfo::Organizer),
        MeetingInfo::Token(t) => {
            non_empty(&t.token).map(|t| call::MeetingInfo::Token(t.to_owned()))
        }
        MeetingInfo::JoinMeetingId(j) => Some(call::MeetingInfo::JoinMeetingId {
            join_meeting_id: non_empty(&j.join_meeting_id)?.to_owned(),
            passcode: non_empty(&j.passcode).map(str::to_owned),
        }),
        MeetingInfo::Unknown(_) => None,
    }
}

/// A `resultInfo`; a missing code or subcode reads as 0 (old examples send only `code`).
pub fn result_info(result: &model::ResultInfo) -> call::ResultInfo {
    call::ResultInfo {
        code: result.code.unwrap_or(0),
        subcode: result.subcode.unwrap_or(0),
        message: result.message.clone().filter(|m| !m.is_empty()),
    }
}

/// A key press; `None` when the tone is missing or not a known key.
pub fn tone_received(tone: &ToneInfo) -> Option<ToneReceived> {
    Some(ToneReceived {
        tone: Tone::from_graph(tone.tone.as_deref()?)?,
        sequence_id: tone.sequence_id.unwrap_or(0),
    })
}

/// A roster entry. `my_participant_id` is the call's `myParticipantId`, which marks the bot
/// itself. A participant without an id (invitees not yet joined) gets an empty id.
pub fn participant(p: &model::Participant, my_participant_id: Option<&str>) -> call::Participant {
    let info = p.info.as_ref();
    let participant_id = non_empty(&p.id)
        .or_else(|| info.and_then(|i| non_empty(&i.participant_id)))
        .unwrap_or_default()
        .to_owned();
    let is_self = !participant_id.is_empty() && my_participant_id == Some(participant_id.as_str());
    call::Participant {
        identity: info
            .and_then(|i| i.identity.as_ref())
            .and_then(identity)
            .unwrap_or_else(unknown_party),
        is_muted: p.is_muted.unwrap_or(false),
        in_lobby: p.is_in_lobby.unwrap_or(false),
        is_self,
        participant_id,
    }
}

/// A finished (or updated) operation. The id in the resource wins over `operation_id` (the
/// one in the URL), since it is the form the action's response returned.
pub fn operation_completed(op: &CommsOperation, operation_id: Option<&str>) -> OperationCompleted {
    OperationCompleted {
        operation_id: non_empty(&op.id)
            .or(operation_id)
            .unwrap_or_default()
            .to_owned(),
        kind: op
            .type_name()
            .map_or(OperationKind::Unknown, OperationKind::from_odata_type),
        status: op
            .status
            .as_deref()
            .map_or(OperationStatus::Unknown, OperationStatus::from_graph),
        client_context: op.client_context.clone(),
        result: op.result_info.as_ref().map(result_info),
        recording_location: non_empty(&op.recording_location).map(str::to_owned),
        recording_access_token: non_empty(&op.recording_access_token).map(str::to_owned),
        // An enum of lower camel-case values (`completedSuccessfully`), sent in PascalCase too.
        completion_reason: non_empty(&op.completion_reason).map(lower_first),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn set(value: serde_json::Value) -> IdentitySet {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn identity_picks_the_most_specific_kind() {
        let both =
            set(json!({"user": {"id": "u"}, "applicationInstance": {"id": "ai", "tenantId": "t"}}));
        let picked = identity(&both).unwrap();
        assert_eq!(
            (picked.kind, picked.id.as_str(), picked.tenant_id.as_deref()),
            (IdentityKind::ApplicationInstance, "ai", Some("t"))
        );
        let phone = set(json!({"application": {"id": "a"}, "phone": {"id": "+1"}}));
        assert_eq!(identity(&phone).unwrap().kind, IdentityKind::Phone);
        let encrypted = set(json!({"encrypted": {"id": "e"}, "user": {"id": "u"}}));
        assert_eq!(identity(&encrypted).unwrap().kind, IdentityKind::User);
        let only_encrypted = set(json!({"encrypted": {"id": "e"}}));
        assert_eq!(
            identity(&only_encrypted).unwrap().kind,
            IdentityKind::Encrypted
        );
        let device = set(json!({"device": {"id": "d", "displayName": ""}}));
        assert_eq!(
            identity(&device).unwrap(),
            Identity::new(IdentityKind::Unknown, "d")
        );
        let id_less =
            set(json!({"applicationInstance": {"displayName": "x"}, "user": {"id": "u"}}));
        assert_eq!(identity(&id_less).unwrap().id, "u");
        assert_eq!(identity(&set(json!({"user": null}))), None);
    }

    #[test]
    fn participant_marks_the_bot_itself() {
        let p: model::Participant = serde_json::from_value(json!({
            "id": "p1", "isMuted": true, "info": {"identity": {"user": {"id": "u", "displayName": "Bob"}}}
        }))
        .unwrap();
        let me = participant(&p, Some("p1"));
        assert!(me.is_self && me.is_muted && !me.in_lobby);
        assert_eq!(me.identity.display_name.as_deref(), Some("Bob"));
        assert!(!participant(&p, Some("p2")).is_self);
        let nobody = participant(&model::Participant::default(), Some(""));
        assert!(!nobody.is_self && nobody.participant_id.is_empty());
        assert_eq!(nobody.identity.kind, IdentityKind::Unknown);
    }

    #[test]
    fn tones_and_operations_convert() {
        let tone = |v| tone_received(&serde_json::from_value(v).unwrap());
        assert_eq!(
            tone(json!({"tone": "STAR", "sequenceId": "7"})),
            Some(ToneReceived {
                tone: Tone::Star,
                sequence_id: 7
            })
        );
        assert_eq!(tone(json!({"tone": "tone42"})), None);
        assert_eq!(tone(json!({})), None);
        let op: CommsOperation = serde_json::from_value(
            json!({"@odata.type": "sendDtmfTonesOperation", "status": "Running"}),
        )
        .unwrap();
        let done = operation_completed(&op, Some("from-url"));
        assert_eq!(
            (done.kind, done.status, done.operation_id.as_str()),
            (
                OperationKind::SendDtmfTones,
                OperationStatus::Running,
                "from-url"
            )
        );
        let unknown = operation_completed(&CommsOperation::default(), None);
        assert_eq!(
            (unknown.kind, unknown.status),
            (OperationKind::Unknown, OperationStatus::Unknown)
        );
    }
}
