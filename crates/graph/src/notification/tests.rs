//! Notification parsing against every docs fixture.

use serde_json::Value;

use super::*;
use crate::model::{MeetingInfo, fixtures};
use callhost_call::{CallState, IdentityKind, Modality, OperationKind, OperationStatus, Tone};

fn only(name: &str) -> CommsNotification {
    let mut all = parse(&fixtures::bytes(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(all.len(), 1, "{name}");
    all.remove(0)
}

pub(super) fn call_of(n: &CommsNotification) -> &Call {
    match &n.data {
        ResourceData::Call(call) => call,
        other => panic!("{}: expected a call, got {other:?}", n.resource_url),
    }
}

pub(super) fn operation_of(n: &CommsNotification) -> &CommsOperation {
    match &n.data {
        ResourceData::Operation(op) => op,
        other => panic!("{}: expected an operation, got {other:?}", n.resource_url),
    }
}

pub(super) fn roster_of(n: &CommsNotification) -> &[Participant] {
    match &n.data {
        ResourceData::Participants(list) => list,
        other => panic!("{}: expected participants, got {other:?}", n.resource_url),
    }
}

#[test]
fn every_notification_fixture_parses_routes_and_types() {
    for name in fixtures::names("notification-") {
        let all = parse(&fixtures::bytes(&name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!all.is_empty(), "{name}: no notifications");
        for n in &all {
            assert_ne!(n.change_type, ChangeType::Unknown, "{name}");
            let typed = match (&n.target, &n.data) {
                (ResourceTarget::Call { .. }, ResourceData::Call(_)) => true,
                (ResourceTarget::Participants { .. }, ResourceData::Participants(list)) => {
                    !list.is_empty()
                }
                (ResourceTarget::Operation { .. }, ResourceData::Operation(op)) => {
                    op.status.is_some()
                }
                (ResourceTarget::Other { path, .. }, ResourceData::Other(_)) => {
                    path == "contentsharingsessions"
                }
                _ => false,
            };
            assert!(
                typed,
                "{name}: target {:?} with data {:?}",
                n.target, n.data
            );
            let raw: Value = serde_json::from_str(&n.raw_resource_data).unwrap();
            assert_eq!(
                raw,
                fixtures::json(&name)["value"][0]["resourceData"],
                "{name}"
            );
        }
    }
}

#[test]
fn sdk_captured_rosters_are_not_callback_bodies_but_their_participants_parse() {
    let expected = [
        (
            "sdk-captured-roster-participant-removed.json",
            "RemovedResources",
            IdentityKind::Guest,
            Some("Bot 3"),
        ),
        (
            "sdk-captured-roster-participants-added.json",
            "AddedResources",
            IdentityKind::ApplicationInstance,
            None,
        ),
    ];
    assert_eq!(fixtures::names("sdk-captured-").len(), expected.len());
    for (name, list, first_kind, first_name) in expected {
        // The C# SDK's re-serialized event arguments: the server answers such a body with 204.
        assert_eq!(
            parse(&fixtures::bytes(name)),
            Err(NotificationError::NotCommsNotifications),
            "{name}"
        );
        let body = fixtures::json(name);
        let resources = body[list].as_array().unwrap();
        let roster: Vec<Participant> = resources
            .iter()
            .map(|r| serde_json::from_value(r["Resource"].clone()).unwrap())
            .collect();
        let first = participant(&roster[0], None);
        assert_eq!(
            (first.identity.kind, first.identity.display_name.as_deref()),
            (first_kind, first_name),
            "{name}"
        );
        assert!(
            roster
                .iter()
                .all(|p| p.id.is_some() && !p.media_streams.is_empty()),
            "{name}"
        );
    }
    let added = fixtures::json("sdk-captured-roster-participants-added.json");
    let bot: Participant =
        serde_json::from_value(added["AddedResources"][0]["Resource"].clone()).unwrap();
    let bot = participant(&bot, Some("0bdbb057-799f-4a0c-8b0c-aa5976ae3b08"));
    assert!(bot.is_self);
    assert_eq!(
        bot.identity.tenant_id.as_deref(),
        Some("a5857b42-ddbd-48ff-98f3-de4b7676d38c")
    );
}

#[test]
fn tone_notification() {
    let n = only("notification-tone.json");
    assert_eq!(n.change_type, ChangeType::Updated);
    let call = call_of(&n);
    assert_eq!(call.state(), Some(CallState::Established));
    let tone = tone_received(call.tone_info.as_ref().unwrap()).unwrap();
    assert_eq!((tone.tone, tone.sequence_id), (Tone::Tone1, 1));
}

#[test]
fn operation_notifications() {
    let n = only("notification-playprompt-completed.json");
    let ResourceTarget::Operation {
        call_id,
        operation_id,
    } = &n.target
    else {
        panic!("{:?}", n.target)
    };
    assert_eq!(
        (call_id.as_str(), operation_id.as_str()),
        (
            "57DAB8B1894C409AB240BD8BEAE78896",
            "0FE0623FD62842EDB4BD8AC290072CC5"
        )
    );
    let done = operation_completed(operation_of(&n), Some(operation_id));
    assert_eq!(
        (done.kind, done.status),
        (OperationKind::PlayPrompt, OperationStatus::Completed)
    );
    assert_eq!(done.operation_id, "0FE0623FD62842EDB4BD8AC290072CC5");
    assert_eq!(
        done.client_context.as_deref(),
        Some("d45324c1-fcb5-430a-902c-f20af696537c")
    );
    let result = done.result.unwrap();
    assert_eq!(
        (result.code, result.subcode, result.message.as_deref()),
        (200, 0, Some("Action completed successfully."))
    );

    let recorded = operation_completed(
        operation_of(&only("notification-recordresponse-completed.json")),
        None,
    );
    assert_eq!(recorded.kind, OperationKind::RecordResponse);
    assert_eq!(
        recorded.operation_id,
        "0fe0623f-d628-42ed-b4bd-8ac290072cc5"
    );
    assert_eq!(
        recorded.recording_location.as_deref(),
        Some("https://file.location/17e3b46c-f61d-4f4d-9635-c626ef18e6ad")
    );
    assert_eq!(
        recorded.recording_access_token.as_deref(),
        Some("<access-token>")
    );

    let cancelled = operation_completed(
        operation_of(&only("notification-recordresponse-canceled.json")),
        None,
    );
    assert_eq!(cancelled.status, OperationStatus::Failed);
    assert_eq!(
        cancelled.result.map(|r| (r.code, r.subcode)),
        Some((400, 8508))
    );
    assert_eq!(cancelled.recording_location, None);

    let dtmf = operation_completed(
        operation_of(&only("notification-senddtmftones-canceled.json")),
        None,
    );
    assert_eq!(dtmf.kind, OperationKind::SendDtmfTones);
    assert_eq!(
        dtmf.completion_reason.as_deref(),
        Some("mediaOperationCanceled")
    );

    let hold = only("notification-startholdmusic-completed.json");
    assert!(
        matches!(&hold.target, ResourceTarget::Operation { call_id, .. } if call_id == "e141b67c-90fd-455d-858b-b48a40b9cc8d")
    );
    assert_eq!(
        operation_completed(operation_of(&hold), None).kind,
        OperationKind::StartHoldMusic
    );

    let invite = only("notification-invite-operation-completed.json");
    let invited = operation_of(&invite).participants.as_ref().unwrap();
    assert_eq!(
        identity(invited[0].identity.as_ref().unwrap()).unwrap().id,
        "278405a3-f568-4b3e-b684-009193463064"
    );
}

#[test]
fn result_infos_with_string_codes_and_sub_code() {
    let result = |name: &str| result_info(call_of(&only(name)).result_info.as_ref().unwrap());
    let failed = result("notification-transfer-failed.json");
    assert_eq!((failed.code, failed.subcode), (500, 7000));
    assert_eq!(
        (result("notification-transfer-consultative-failed.json").subcode),
        7700
    );
    let ended = result("notification-call-terminated.json");
    assert_eq!(
        (ended.code, ended.subcode, ended.message.as_deref()),
        (200, 5001, Some("The conversation has ended."))
    );
    let old = result("notification-call-terminated-old-example.json");
    assert_eq!((old.code, old.subcode), (0, 0));
    let transferred = result("notification-transfer-completed.json");
    assert_eq!((transferred.code, transferred.subcode), (0, 7015));
    let consultative = only("notification-transfer-consultative-completed.json");
    assert_eq!(
        call_of(&consultative).termination_reason(),
        Some("AppTransferred")
    );
    assert_eq!(
        call_of(&only("notification-transfer-failed.json")).state(),
        Some(CallState::Established)
    );
}

#[test]
fn roster_notifications() {
    let n = only("notification-join-meeting-roster.json");
    assert_eq!(
        n.target,
        ResourceTarget::Participants {
            call_id: "2f1a1100-b174-40a0-aba7-0b405e01ed92".into()
        }
    );
    let roster: Vec<_> = roster_of(&n)
        .iter()
        .map(|p| participant(p, Some("05491616-385f-44a8-9974-18cc5f9933c1")))
        .collect();
    assert_eq!(roster.len(), 2);
    assert_eq!(
        (
            roster[0].identity.kind,
            roster[0].identity.display_name.as_deref()
        ),
        (IdentityKind::User, Some("John"))
    );
    assert!(roster[0].is_muted && !roster[0].is_self);
    assert_eq!(roster[1].identity.kind, IdentityKind::Application);
    assert!(roster[1].is_self && !roster[1].is_muted);
    assert_eq!(roster_of(&n)[0].media_streams.len(), 3);

    let multiple = only("notification-participants-updated-multiple-added.json");
    assert!(matches!(
        multiple.target,
        ResourceTarget::Participants { .. }
    ));
    assert!(roster_of(&multiple).iter().all(|p| p.id.is_none()));
    let pstn = only("notification-participants-updated-pstn-added.json");
    assert_eq!(
        participant(&roster_of(&pstn)[0], None).identity,
        callhost_call::Identity::phone("+12345678901")
    );
}

#[test]
fn incoming_call_notifications() {
    let n = only("notification-incoming-call.json");
    assert_eq!(n.change_type, ChangeType::Created);
    let call = call_of(&n);
    assert_eq!(call.state(), Some(CallState::Incoming));
    assert_eq!(
        call.direction(),
        Some(callhost_call::CallDirection::Incoming)
    );
    let incoming = incoming_call(call);
    assert_eq!(
        (
            incoming.caller.kind,
            incoming.caller.display_name.as_deref()
        ),
        (IdentityKind::User, Some("Test User"))
    );
    assert_eq!(incoming.callees.len(), 1);
    assert_eq!(incoming.callees[0].kind, IdentityKind::Application);
    assert_eq!(incoming.requested_modalities, [Modality::Audio]);
    assert_eq!(incoming.meeting, None);

    let video = incoming_call(call_of(&only("notification-incoming-call-video.json")));
    assert_eq!(
        video.requested_modalities,
        [Modality::Audio, Modality::Video]
    );

    let n = only("notification-incoming-call-pstn-appinstance.json");
    let call = call_of(&n);
    let incoming = incoming_call(call);
    assert_eq!(
        incoming.caller.tenant_id.as_deref(),
        Some("632899f8-2ea1-4604-8413-27bd2892079f")
    );
    let callee = &incoming.callees[0];
    assert_eq!(
        (
            callee.kind,
            callee.id.as_str(),
            callee.display_name.as_deref()
        ),
        (
            IdentityKind::ApplicationInstance,
            "7629bdce-046c-4903-86b4-a8f718277e1a",
            Some("PstnAppInstance")
        )
    );
    assert_eq!(
        call.tenant_id(),
        Some("632899f8-2ea1-4604-8413-27bd2892079f")
    );
    assert_eq!(
        call.my_participant_id(),
        Some("c339cede-4bd6-4f20-ab9f-3a13e65f6d00")
    );
    assert!(incoming.requested_modalities.is_empty());

    let n = only("notification-incoming-call-policy-recording.json");
    let call = call_of(&n);
    let incoming = incoming_call(call);
    assert_eq!(
        incoming.call_chain_id.as_deref(),
        Some("05f2f70f-3a9c-47c1-80a9-cc79e91d8cec")
    );
    assert_eq!(
        incoming.meeting.unwrap().meeting,
        Some(callhost_call::MeetingInfo::Token("join token".into()))
    );
    assert_eq!(incoming.callees[0].kind, IdentityKind::ApplicationInstance);

    let answered = call_of(&only("notification-redirect-pstn-terminated.json"))
        .answered_by
        .clone()
        .unwrap();
    assert_eq!(
        identity(answered.identity.as_ref().unwrap()).unwrap().kind,
        IdentityKind::Encrypted
    );
}

#[test]
fn meeting_and_other_notifications() {
    let n = only("notification-join-meeting-establishing.json");
    assert_eq!(
        n.callback_uri.as_deref(),
        Some("https://bot.contoso.com/callback")
    );
    let call = call_of(&n);
    assert!(matches!(call.meeting_info, Some(MeetingInfo::Organizer(_))));
    let invite = meeting_invite(call).unwrap();
    assert_eq!(
        invite.chat.unwrap().thread_id,
        "19:meeting_Win6Ydo4wsMijFjZS00ZGVjLTk5MGUtOTRjNWY2NmNkYTFm@thread.v2"
    );
    let Some(callhost_call::MeetingInfo::Organizer(organizer)) = invite.meeting else {
        panic!()
    };
    assert_eq!(organizer.display_name.as_deref(), Some("Bob"));

    let rejected = only("notification-call-rejected-deleted.json");
    assert_eq!(rejected.change_type, ChangeType::Deleted);
    assert_eq!(call_of(&rejected).state(), None);

    let sharing = only("notification-content-sharing-started.json");
    assert_eq!(
        sharing.call_id(),
        Some("421f4c00-4436-4c3a-9d9a-c4924cf98e67")
    );
    assert!(matches!(sharing.data, ResourceData::Other(Value::Array(_))));
}

#[test]
fn pascal_case_keys_and_values_parse_like_camel_case() {
    let body = br##"{"Value": [{"ChangeType": "Updated", "ResourceUrl": "/communications/calls/c1",
        "ResourceData": {"@odata.type": "#microsoft.graph.call", "State": "Established",
        "MeetingUrl": "https://teams.microsoft.com/x", "ToneInfo": {"SequenceId": 3, "Tone": "Tone5"}}}]}"##;
    let n = parse(body).unwrap().remove(0);
    assert_eq!(n.change_type, ChangeType::Updated);
    assert_eq!(n.call_id(), Some("c1"));
    let call = call_of(&n);
    assert_eq!(call.state(), Some(callhost_call::CallState::Established));
    let tone = call.tone_info.as_ref().unwrap();
    assert_eq!(
        (tone.sequence_id, tone.tone.as_deref()),
        (Some(3), Some("Tone5"))
    );
}

#[test]
fn single_resources_sent_as_arrays_become_one_notification_each() {
    let body = br##"{"value": [{"changeType": "deleted", "resource": "/app/calls/c1/operations/o1",
        "resourceData": [{"@odata.type": "microsoft.graph.playPromptOperation", "status": "completed"}]},
        {"changeType": "updated", "resourceUrl": "/communications/calls/c2",
        "resourceData": [{"state": "hold"}, {"state": "established"}]}]}"##;
    let all = parse_delivery(body, Some("msg")).unwrap();
    assert_eq!(all.len(), 3);
    assert!(
        matches!(&all[0].data, ResourceData::Operation(op) if op.status.as_deref() == Some("completed"))
    );
    assert_eq!(all[0].resource_url, "/app/calls/c1/operations/o1");
    assert_eq!(all[1].raw_resource_data, r#"{"state":"hold"}"#);
    let ids: Vec<_> = all.iter().map(|n| n.delivery_id.clone().unwrap()).collect();
    assert_eq!(ids, ["msg#0", "msg#1.0", "msg#1.1"]);
    assert!(parse(body).unwrap().iter().all(|n| n.delivery_id.is_none()));
}

#[test]
fn incoming_calls_are_recognised_in_every_shape() {
    let incoming = |data: &str| {
        let body = format!(
            r#"{{"value": [{{"changeType": "Created", "resourceUrl": "/communications/calls/c1"{data}}}]}}"#
        );
        parse(body.as_bytes()).unwrap().remove(0).is_incoming_call()
    };
    assert!(incoming(r##", "resourceData": {"state": "Incoming"}"##));
    assert!(incoming(
        r##", "resourceData": [{"@odata.type": "#microsoft.graph.call", "state": "incoming"}]"##
    ));
    assert!(incoming(""));
    assert!(incoming(
        r##", "resourceData": {"@odata.type": "#microsoft.graph.call", "state": 5}"##
    ));
    assert!(!incoming(
        r##", "resourceData": {"state": "establishing"}"##
    ));
}

#[test]
fn dedupe_keys_are_given_only_where_a_repeat_is_certain() {
    assert_eq!(
        only("notification-tone.json").dedupe_key().as_deref(),
        Some("tone:1")
    );
    let completed = only("notification-playprompt-completed.json");
    let key = completed.dedupe_key().unwrap();
    assert!(
        key.starts_with("operation:") && key.ends_with(":completed"),
        "{key}"
    );
    // An operation reaches each status once: its id and status name the notification.
    assert_eq!(
        only("notification-senddtmftones-canceled.json")
            .dedupe_key()
            .as_deref(),
        Some("operation:d36fe651-9f50-484d-bd4b-1e6415eae448:completed")
    );
    // A call's state and a roster repeat for real; the tracker tells their copies apart.
    for name in [
        "notification-call-established.json",
        "notification-participants-updated-added.json",
    ] {
        for n in parse(&fixtures::bytes(name)).unwrap() {
            assert_eq!(n.dedupe_key(), None, "{name}");
        }
    }
    // Graph's message id names the delivery, whatever it carries.
    let body = fixtures::bytes("notification-tone.json");
    let delivered = parse_delivery(&body, Some("msg-7")).unwrap();
    let key = delivered[0].dedupe_key().unwrap();
    assert!(
        key.starts_with("delivery:") && key.contains("msg-7"),
        "{key}"
    );
}
