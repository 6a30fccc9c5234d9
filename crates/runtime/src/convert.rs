//! Conversions between the call domain and the generated WIT types.

use super::bindings::{call_control as cc, types as wit};
use callhost_call as call;

pub(crate) fn identity_kind(kind: call::IdentityKind) -> wit::IdentityKind {
    use call::IdentityKind as K;
    match kind {
        K::User => wit::IdentityKind::User,
        K::Application => wit::IdentityKind::Application,
        K::ApplicationInstance => wit::IdentityKind::ApplicationInstance,
        K::Phone => wit::IdentityKind::Phone,
        K::Guest => wit::IdentityKind::Guest,
        K::Encrypted => wit::IdentityKind::Encrypted,
        K::Unknown => wit::IdentityKind::Unknown,
    }
}

pub(crate) fn identity(i: &call::Identity) -> wit::Identity {
    wit::Identity {
        kind: identity_kind(i.kind),
        id: i.id.clone(),
        display_name: i.display_name.clone(),
        tenant_id: i.tenant_id.clone(),
    }
}

pub(crate) fn identity_from_wit(i: wit::Identity) -> call::Identity {
    use wit::IdentityKind as K;
    let kind = match i.kind {
        K::User => call::IdentityKind::User,
        K::Application => call::IdentityKind::Application,
        K::ApplicationInstance => call::IdentityKind::ApplicationInstance,
        K::Phone => call::IdentityKind::Phone,
        K::Guest => call::IdentityKind::Guest,
        K::Encrypted => call::IdentityKind::Encrypted,
        K::Unknown => call::IdentityKind::Unknown,
    };
    call::Identity {
        kind,
        id: i.id,
        display_name: i.display_name,
        tenant_id: i.tenant_id,
    }
}

pub(crate) fn modality(m: call::Modality) -> wit::Modality {
    match m {
        call::Modality::Audio => wit::Modality::Audio,
        call::Modality::Video => wit::Modality::Video,
        call::Modality::VideoBasedScreenSharing => wit::Modality::VideoBasedScreenSharing,
        call::Modality::Data => wit::Modality::Data,
    }
}

pub(crate) fn modality_from_wit(m: wit::Modality) -> call::Modality {
    match m {
        wit::Modality::Audio => call::Modality::Audio,
        wit::Modality::Video => call::Modality::Video,
        wit::Modality::VideoBasedScreenSharing => call::Modality::VideoBasedScreenSharing,
        wit::Modality::Data => call::Modality::Data,
    }
}

pub(crate) fn call_state(s: call::CallState) -> wit::CallState {
    use call::CallState as S;
    match s {
        S::Incoming => wit::CallState::Incoming,
        S::Establishing => wit::CallState::Establishing,
        S::Established => wit::CallState::Established,
        S::Hold => wit::CallState::Hold,
        S::Transferring => wit::CallState::Transferring,
        S::TransferAccepted => wit::CallState::TransferAccepted,
        S::Redirecting => wit::CallState::Redirecting,
        S::Terminating => wit::CallState::Terminating,
        S::Terminated => wit::CallState::Terminated,
        S::Unknown => wit::CallState::Unknown,
    }
}

pub(crate) fn tone(t: call::Tone) -> wit::Tone {
    use call::Tone as T;
    match t {
        T::Tone0 => wit::Tone::Zero,
        T::Tone1 => wit::Tone::One,
        T::Tone2 => wit::Tone::Two,
        T::Tone3 => wit::Tone::Three,
        T::Tone4 => wit::Tone::Four,
        T::Tone5 => wit::Tone::Five,
        T::Tone6 => wit::Tone::Six,
        T::Tone7 => wit::Tone::Seven,
        T::Tone8 => wit::Tone::Eight,
        T::Tone9 => wit::Tone::Nine,
        T::Star => wit::Tone::Star,
        T::Pound => wit::Tone::Pound,
        T::A => wit::Tone::A,
        T::B => wit::Tone::B,
        T::C => wit::Tone::C,
        T::D => wit::Tone::D,
        T::Flash => wit::Tone::Flash,
    }
}

pub(crate) fn tone_from_wit(t: wit::Tone) -> call::Tone {
    use wit::Tone as T;
    match t {
        T::Zero => call::Tone::Tone0,
        T::One => call::Tone::Tone1,
        T::Two => call::Tone::Tone2,
        T::Three => call::Tone::Tone3,
        T::Four => call::Tone::Tone4,
        T::Five => call::Tone::Tone5,
        T::Six => call::Tone::Tone6,
        T::Seven => call::Tone::Tone7,
        T::Eight => call::Tone::Tone8,
        T::Nine => call::Tone::Tone9,
        T::Star => call::Tone::Star,
        T::Pound => call::Tone::Pound,
        T::A => call::Tone::A,
        T::B => call::Tone::B,
        T::C => call::Tone::C,
        T::D => call::Tone::D,
        T::Flash => call::Tone::Flash,
    }
}

fn result_info(r: &call::ResultInfo) -> wit::ResultInfo {
    wit::ResultInfo {
        code: r.code,
        subcode: r.subcode,
        message: r.message.clone(),
    }
}

pub(crate) fn prompt_from_wit(p: wit::MediaPrompt) -> call::MediaPrompt {
    call::MediaPrompt {
        uri: p.uri,
        resource_id: p.resource_id,
    }
}

fn meeting_invite(m: &call::MeetingInvite) -> wit::MeetingInvite {
    wit::MeetingInvite {
        chat: m.chat.as_ref().map(|c| wit::ChatInfo {
            thread_id: c.thread_id.clone(),
            message_id: c.message_id.clone(),
            reply_chain_message_id: c.reply_chain_message_id.clone(),
        }),
        meeting: m.meeting.as_ref().map(|info| match info {
            call::MeetingInfo::Organizer(o) => wit::MeetingInfo::Organizer(identity(o)),
            call::MeetingInfo::Token(t) => wit::MeetingInfo::Token(t.clone()),
            call::MeetingInfo::JoinMeetingId {
                join_meeting_id,
                passcode,
            } => wit::MeetingInfo::JoinMeetingId(wit::JoinMeetingIdInfo {
                join_meeting_id: join_meeting_id.clone(),
                passcode: passcode.clone(),
            }),
        }),
    }
}

fn operation_kind(k: call::OperationKind) -> wit::OperationKind {
    use call::OperationKind as K;
    match k {
        K::PlayPrompt => wit::OperationKind::PlayPrompt,
        K::RecordResponse => wit::OperationKind::RecordResponse,
        K::SendDtmfTones => wit::OperationKind::SendDtmfTones,
        K::SubscribeToTone => wit::OperationKind::SubscribeToTone,
        K::CancelMediaProcessing => wit::OperationKind::CancelMediaProcessing,
        K::InviteParticipants => wit::OperationKind::InviteParticipants,
        K::MuteParticipant => wit::OperationKind::MuteParticipant,
        K::UnmuteParticipant => wit::OperationKind::UnmuteParticipant,
        K::StartHoldMusic => wit::OperationKind::StartHoldMusic,
        K::StopHoldMusic => wit::OperationKind::StopHoldMusic,
        K::UpdateRecordingStatus => wit::OperationKind::UpdateRecordingStatus,
        K::AddLargeGalleryView => wit::OperationKind::AddLargeGalleryView,
        K::Unknown => wit::OperationKind::Unknown,
    }
}

fn operation_status(s: call::OperationStatus) -> wit::OperationStatus {
    use call::OperationStatus as S;
    match s {
        S::NotStarted => wit::OperationStatus::NotStarted,
        S::Running => wit::OperationStatus::Running,
        S::Completed => wit::OperationStatus::Completed,
        S::Failed => wit::OperationStatus::Failed,
        S::Unknown => wit::OperationStatus::Unknown,
    }
}

fn participant(p: &call::Participant) -> wit::Participant {
    wit::Participant {
        participant_id: p.participant_id.clone(),
        identity: identity(&p.identity),
        is_muted: p.is_muted,
        in_lobby: p.in_lobby,
        is_self: p.is_self,
    }
}

fn participants(list: &[call::Participant]) -> Vec<wit::Participant> {
    list.iter().map(participant).collect()
}

fn event_kind(kind: &call::CallEventKind) -> wit::EventKind {
    use call::CallEventKind as K;
    match kind {
        K::IncomingCall(c) => wit::EventKind::IncomingCall(wit::IncomingCall {
            caller: identity(&c.caller),
            callees: c.callees.iter().map(identity).collect(),
            requested_modalities: c
                .requested_modalities
                .iter()
                .copied()
                .map(modality)
                .collect(),
            meeting: c.meeting.as_ref().map(meeting_invite),
            call_chain_id: c.call_chain_id.clone(),
        }),
        K::StateChanged(s) => wit::EventKind::StateChanged(wit::StateChanged {
            state: call_state(s.state),
            previous: call_state(s.previous),
            result: s.result.as_ref().map(result_info),
            termination_reason: s.termination_reason.clone(),
        }),
        K::ToneReceived(t) => wit::EventKind::ToneReceived(wit::ToneReceived {
            tone: tone(t.tone),
            sequence_id: t.sequence_id,
        }),
        K::OperationCompleted(o) => wit::EventKind::OperationCompleted(wit::OperationCompleted {
            operation_id: o.operation_id.clone(),
            kind: operation_kind(o.kind),
            status: operation_status(o.status),
            client_context: o.client_context.clone(),
            result: o.result.as_ref().map(result_info),
            recording_location: o.recording_location.clone(),
            recording_access_token: o.recording_access_token.clone(),
            completion_reason: o.completion_reason.clone(),
        }),
        K::ParticipantsChanged(p) => {
            wit::EventKind::ParticipantsChanged(wit::ParticipantsChanged {
                joined: participants(&p.joined),
                left: participants(&p.left),
                updated: participants(&p.updated),
                sequence_number: p.sequence_number,
            })
        }
        K::Other { resource_type } => wit::EventKind::Other(wit::OtherEvent {
            resource_type: resource_type.clone(),
        }),
        K::TimerFired(t) => wit::EventKind::TimerFired(wit::TimerFired {
            name: t.name.clone(),
            payload: t.payload.clone(),
            late_ms: t.late_ms,
        }),
        K::TonesCollected(t) => wit::EventKind::TonesCollected(wit::TonesCollected {
            digits: t.digits.clone(),
            reason: collect_end(t.reason),
            terminator: t.terminator.map(tone),
            tries: t.tries,
            client_context: t.client_context.clone(),
            result: t.result.as_ref().map(result_info),
        }),
    }
}

pub(crate) fn event(e: &call::CallEvent) -> wit::Event {
    wit::Event {
        kind: event_kind(&e.kind),
        change_type: match e.change_type {
            call::ChangeType::Created => wit::ChangeType::Created,
            call::ChangeType::Updated => wit::ChangeType::Updated,
            call::ChangeType::Deleted => wit::ChangeType::Deleted,
            call::ChangeType::Unknown => wit::ChangeType::Unknown,
        },
        resource_url: e.resource_url.clone(),
        raw: e.raw.clone(),
    }
}

fn collect_end(end: call::CollectEnd) -> wit::CollectEnd {
    use call::CollectEnd as E;
    match end {
        E::Complete => wit::CollectEnd::Complete,
        E::Terminator => wit::CollectEnd::Terminator,
        E::Timeout => wit::CollectEnd::Timeout,
        E::InterDigitTimeout => wit::CollectEnd::InterDigitTimeout,
        E::TriesExhausted => wit::CollectEnd::TriesExhausted,
        E::Failed => wit::CollectEnd::Failed,
    }
}

pub(crate) fn call_context(c: &call::CallContext) -> wit::CallContext {
    wit::CallContext {
        call_id: c.call_id.clone(),
        direction: match c.direction {
            call::CallDirection::Incoming => wit::CallDirection::Incoming,
            call::CallDirection::Outgoing => wit::CallDirection::Outgoing,
        },
        tenant_id: c.tenant_id.clone(),
        state: call_state(c.state),
        my_participant_id: c.my_participant_id.clone(),
        bot_app_id: c.bot_app_id.clone(),
        created_by_plugin: c.created_by_plugin,
    }
}

pub(crate) fn call_error(e: call::CallError) -> wit::CallError {
    use call::CallError as E;
    match e {
        E::NotFound => wit::CallError::NotFound,
        E::Forbidden => wit::CallError::Forbidden,
        E::Throttled => wit::CallError::Throttled,
        E::InvalidArgument(m) => wit::CallError::InvalidArgument(m),
        E::Upstream {
            status,
            code,
            message,
        } => wit::CallError::Upstream(wit::UpstreamError {
            status,
            code,
            message,
        }),
        E::Timeout => wit::CallError::Timeout,
        E::NotPermitted(m) => wit::CallError::NotPermitted(m),
        E::Other(m) => wit::CallError::Other(m),
    }
}

pub(crate) fn reject_reason(r: cc::RejectReason) -> call::RejectReason {
    match r {
        cc::RejectReason::None => call::RejectReason::None,
        cc::RejectReason::Busy => call::RejectReason::Busy,
        cc::RejectReason::Forbidden => call::RejectReason::Forbidden,
    }
}

pub(crate) fn transfer_request(r: cc::TransferRequest) -> call::TransferRequest {
    call::TransferRequest {
        target: identity_from_wit(r.target),
        replaces_call_id: r.replaces_call_id,
        transferee: r.transferee.map(|t| call::Transferee {
            identity: identity_from_wit(t.identity),
            participant_id: t.participant_id,
        }),
    }
}

pub(crate) fn join_request(r: cc::JoinRequest) -> call::JoinMeeting {
    call::JoinMeeting {
        meeting: match r.meeting {
            cc::MeetingRef::JoinUrl(url) => call::MeetingRef::JoinUrl(url),
            cc::MeetingRef::JoinMeetingId(info) => call::MeetingRef::JoinMeetingId {
                join_meeting_id: info.join_meeting_id,
                passcode: info.passcode,
            },
        },
        tenant_id: r.tenant_id,
        display_name: r.display_name,
    }
}

pub(crate) fn place_call_request(r: cc::PlaceCallRequest) -> call::PlaceCall {
    call::PlaceCall {
        targets: r.targets.into_iter().map(identity_from_wit).collect(),
        tenant_id: r.tenant_id,
        subject: r.subject,
        source_application_instance: r.source_application_instance.map(identity_from_wit),
    }
}

pub(crate) fn record_options(o: cc::RecordOptions) -> call::RecordOptions {
    call::RecordOptions {
        prompts: o.prompts.into_iter().map(prompt_from_wit).collect(),
        barge_in_allowed: o.barge_in_allowed,
        initial_silence_timeout_seconds: o.initial_silence_timeout_seconds,
        max_silence_timeout_seconds: o.max_silence_timeout_seconds,
        max_record_duration_seconds: o.max_record_duration_seconds,
        play_beep: o.play_beep,
        stop_tones: o.stop_tones,
        client_context: o.client_context,
    }
}

pub(crate) fn invitee(i: cc::Invitee) -> call::Invitee {
    call::Invitee {
        identity: identity_from_wit(i.identity),
        replaces_call_id: i.replaces_call_id,
        participant_id: i.participant_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tone_maps_to_itself_both_ways() {
        use wit::Tone as W;
        let all = [
            W::Zero,
            W::One,
            W::Two,
            W::Three,
            W::Four,
            W::Five,
            W::Six,
            W::Seven,
            W::Eight,
            W::Nine,
            W::Star,
            W::Pound,
            W::A,
            W::B,
            W::C,
            W::D,
            W::Flash,
        ];
        let domain: Vec<call::Tone> = all.iter().copied().map(tone_from_wit).collect();
        for (i, d) in domain.iter().enumerate() {
            assert!(
                !domain[..i].contains(d),
                "{d:?} is the mirror of two WIT tones"
            );
            assert_eq!(tone(*d), all[i]);
        }
    }
}
