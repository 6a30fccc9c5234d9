use serde_json::{Value, json};

use super::*;
use crate::call::{IdentityKind, OperationStatus, Tone};

const CALL: &str = "57dab8b1-894c-409a-b240-bd8beae78896";

fn parse(value: Value) -> Vec<CommsNotification> {
    crate::graph::notification::parse(&serde_json::to_vec(&value).unwrap()).unwrap()
}

fn one(change: &str, url_tail: &str, data: Value) -> CommsNotification {
    let mut entry = json!({
        "changeType": change,
        "resourceUrl": format!("/communications/calls/{CALL}{url_tail}"),
    });
    if !data.is_null() {
        entry["resourceData"] = data;
    }
    parse(json!({"value": [entry]})).remove(0)
}

fn call(change: &str, data: Value) -> CommsNotification {
    one(change, "", data)
}

fn state(name: &str) -> CommsNotification {
    call(
        "updated",
        json!({"@odata.type": "#microsoft.graph.call", "state": name}),
    )
}

fn kinds(applied: &Applied) -> Vec<&CallEventKind> {
    applied.events.iter().map(|e| &e.kind).collect()
}

fn reasons(applied: &Applied) -> Vec<DropReason> {
    applied.dropped.iter().map(|d| d.reason).collect()
}

fn states(applied: &Applied) -> Vec<CallState> {
    applied
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            CallEventKind::StateChanged(s) => Some(s.state),
            _ => None,
        })
        .collect()
}

fn established() -> CallTracker {
    let mut tracker = CallTracker::new(CallState::Incoming);
    tracker.apply(&state("established"), &StartedOperations::default());
    tracker
}

#[test]
fn real_repeats_are_delivered_every_time() {
    let mut tracker = established();
    let none = StartedOperations::default();
    let failed = call(
        "updated",
        json!({"state": "established", "resultInfo": {"code": 500, "subcode": 7000, "message": "declined"}}),
    );
    let mut seen = Vec::new();
    for _ in 0..2 {
        seen.extend(states(&tracker.apply(&state("transferring"), &none)));
        seen.extend(states(&tracker.apply(&failed, &none)));
    }
    use CallState::{Established, Transferring};
    assert_eq!(seen, [Transferring, Established, Transferring, Established]);
    for _ in 0..2 {
        assert_eq!(
            states(&tracker.apply(&state("hold"), &none)),
            [CallState::Hold]
        );
        assert_eq!(
            states(&tracker.apply(&state("established"), &none)),
            [Established]
        );
    }
}

#[test]
fn a_body_posted_twice_is_recognised_by_its_message_id() {
    let mut tracker = established();
    let none = StartedOperations::default();
    let body = json!({"value": [{"changeType": "updated", "resourceUrl": format!("/communications/calls/{CALL}"),
        "resourceData": {"state": "hold"}}]});
    let bytes = serde_json::to_vec(&body).unwrap();
    let first = crate::graph::notification::parse_delivery(&bytes, Some("m-1")).unwrap();
    let again = crate::graph::notification::parse_delivery(&bytes, Some("m-1")).unwrap();
    assert_eq!(states(&tracker.apply(&first[0], &none)), [CallState::Hold]);
    let dropped = tracker.apply(&again[0], &none);
    assert!(dropped.events.is_empty());
    assert_eq!(reasons(&dropped), [DropReason::DuplicateDelivery]);
}

#[test]
fn tones_out_of_order_unknown_or_unnumbered_are_accounted_for() {
    let mut tracker = established();
    let none = StartedOperations::default();
    let tone = |tone: &str, seq: Value| {
        let mut info = json!({"tone": tone});
        if !seq.is_null() {
            info["sequenceId"] = seq;
        }
        call("updated", json!({"state": "established", "toneInfo": info}))
    };
    let first = tracker.apply(&tone("tone1", json!(6)), &none);
    assert!(matches!(kinds(&first)[..], [CallEventKind::ToneReceived(t)] if t.tone == Tone::Tone1));
    let stale = tracker.apply(&tone("tone2", json!(5)), &none);
    assert_eq!(reasons(&stale), [DropReason::StaleTone]);
    assert!(stale.events.is_empty());
    let unknown = tracker.apply(&tone("tone42", json!(7)), &none);
    assert_eq!(reasons(&unknown), [DropReason::UnknownTone]);
    let unnumbered = tracker.apply(&tone("pound", Value::Null), &none);
    assert!(
        matches!(kinds(&unnumbered)[..], [CallEventKind::ToneReceived(t)] if t.tone == Tone::Pound)
    );
}

#[test]
fn a_state_update_carrying_a_tone_gives_both_state_first() {
    let mut tracker = CallTracker::new(CallState::Establishing);
    let applied = tracker.apply(
        &call(
            "updated",
            json!({"state": "Established", "toneInfo": {"sequenceId": 6, "tone": "tone1"}}),
        ),
        &StartedOperations::default(),
    );
    assert!(matches!(
        kinds(&applied)[..],
        [
            CallEventKind::StateChanged(_),
            CallEventKind::ToneReceived(_)
        ]
    ));
}

#[test]
fn an_unknown_state_does_not_make_the_next_setup_state_stale() {
    let mut tracker = CallTracker::new(CallState::Incoming);
    let none = StartedOperations::default();
    assert_eq!(
        states(&tracker.apply(&state("ringing"), &none)),
        [CallState::Unknown]
    );
    assert_eq!(
        states(&tracker.apply(&state("establishing"), &none)),
        [CallState::Establishing]
    );
    assert_eq!(
        states(&tracker.apply(&state("established"), &none)),
        [CallState::Established]
    );
    let stale = tracker.apply(&state("establishing"), &none);
    assert_eq!(reasons(&stale), [DropReason::StaleState]);
}

#[test]
fn invitees_without_participant_ids_stay_apart() {
    let mut tracker = established();
    let roster = one(
        "updated",
        "/participants",
        json!([
            {"@odata.type": "#microsoft.graph.participant", "id": null, "info": {"identity": {"user": {"id": "u1"}}}},
            {"@odata.type": "#microsoft.graph.participant", "id": null, "info": {"identity": {"user": {"id": "u2"}}}},
            {"@odata.type": "#microsoft.graph.participant", "id": null, "info": {"identity": {}}},
            {"@odata.type": "#microsoft.graph.participant", "id": null, "info": {"identity": {}}}
        ]),
    );
    let applied = tracker.apply(&roster, &StartedOperations::default());
    let [CallEventKind::ParticipantsChanged(change)] = kinds(&applied)[..] else {
        panic!("{applied:?}")
    };
    assert_eq!(change.joined.len(), 4);
    let again = tracker.apply(&roster, &StartedOperations::default());
    assert_eq!(reasons(&again), [DropReason::RosterUnchanged]);
}

#[test]
fn operations_are_matched_in_any_id_form_and_keep_their_kind() {
    let mut tracker = established();
    let started = StartedOperations::default();
    started.insert(
        "0fe0623f-d628-42ed-b4bd-8ac290072cc5",
        OperationKind::PlayPrompt,
    );
    let completion = one(
        "deleted",
        "/operations/0FE0623FD62842EDB4BD8AC290072CC5",
        json!({"id": "0FE0623FD62842EDB4BD8AC290072CC5", "status": "Completed",
            "resultInfo": {"code": "200", "subCode": "0"}}),
    );
    let applied = tracker.apply(&completion, &started);
    let [CallEventKind::OperationCompleted(op)] = kinds(&applied)[..] else {
        panic!("{applied:?}")
    };
    assert_eq!(op.operation_id, "0fe0623f-d628-42ed-b4bd-8ac290072cc5");
    assert_eq!(op.kind, OperationKind::PlayPrompt);
    assert_eq!(op.status, OperationStatus::Completed);
    let again = tracker.apply(&completion, &started);
    assert_eq!(reasons(&again), [DropReason::OperationAlreadyCompleted]);
}

#[test]
fn a_deleted_operation_is_over_whatever_its_status_says() {
    let mut tracker = established();
    let none = StartedOperations::default();
    let unknown = one("deleted", "/operations/op-1", json!({"status": "unknown"}));
    assert!(matches!(
        kinds(&tracker.apply(&unknown, &none))[..],
        [CallEventKind::OperationCompleted(op)] if op.status == OperationStatus::Unknown
    ));
    let bare = one("deleted", "/operations/op-2", Value::Null);
    assert!(matches!(
        kinds(&tracker.apply(&bare, &none))[..],
        [CallEventKind::OperationCompleted(op)] if op.operation_id == "op-2"
    ));
    let running = one(
        "updated",
        "/operations/op-3",
        json!({"@odata.type": "#microsoft.graph.playPromptOperation", "status": "running"}),
    );
    assert!(matches!(
        kinds(&tracker.apply(&running, &none))[..],
        [CallEventKind::Other { resource_type: Some(t) }] if t == "#microsoft.graph.playPromptOperation"
    ));
}

#[test]
fn an_incoming_call_without_its_resource_still_rings_once() {
    let mut tracker = CallTracker::new(CallState::Incoming);
    let none = StartedOperations::default();
    let bare = call("created", Value::Null);
    let applied = tracker.apply(&bare, &none);
    let [CallEventKind::IncomingCall(incoming)] = kinds(&applied)[..] else {
        panic!("{applied:?}")
    };
    assert_eq!(incoming.caller.kind, IdentityKind::Unknown);
    let again = tracker.apply(&bare, &none);
    assert_eq!(reasons(&again), [DropReason::IncomingCallRepeated]);
}

#[test]
fn one_call_sent_as_an_array_is_the_call() {
    let mut tracker = CallTracker::new(CallState::Incoming);
    let array = call(
        "Created",
        json!([{"@odata.type": "#microsoft.graph.call", "state": "incoming", "direction": "incoming",
            "source": {"identity": {"user": {"id": "caller"}}}}]),
    );
    let applied = tracker.apply(&array, &StartedOperations::default());
    assert!(matches!(
        kinds(&applied)[..],
        [CallEventKind::IncomingCall(incoming)] if incoming.caller.id == "caller"
    ));
}

#[test]
fn other_resources_sent_as_arrays_keep_their_type() {
    let mut tracker = established();
    let sharing = one(
        "created",
        "/contentsharingsessions",
        json!([{"@odata.type": "#microsoft.graph.contentSharingSession", "id": "s1"}]),
    );
    let applied = tracker.apply(&sharing, &StartedOperations::default());
    assert!(matches!(
        kinds(&applied)[..],
        [CallEventKind::Other { resource_type: Some(t) }] if t == "#microsoft.graph.contentSharingSession"
    ));
}

#[test]
fn nothing_is_delivered_after_the_end() {
    let mut tracker = established();
    let none = StartedOperations::default();
    let end = call("deleted", Value::Null);
    assert_eq!(states(&tracker.apply(&end, &none)), [CallState::Terminated]);
    assert_eq!(
        reasons(&tracker.apply(&state("established"), &none)),
        [DropReason::CallEnded]
    );
}

#[test]
fn the_call_resource_tells_the_tracker_its_participant_id_and_callback() {
    let mut tracker = CallTracker::new(CallState::Incoming);
    let incoming = call(
        "created",
        json!({
            "@odata.type": "#microsoft.graph.call",
            "state": "incoming",
            "direction": "incoming",
            "callbackUri": "https://bot.contoso.com/api/calls/24701998-1a73-4d42-8085-bf46ed0ae039",
            "myParticipantId": "0b3d1d1a-3c6b-4c39-8a89-0d2c4f0e6f11",
        }),
    );
    tracker.apply(&incoming, &StartedOperations::default());
    assert_eq!(
        tracker.callback_uri.as_deref(),
        Some("https://bot.contoso.com/api/calls/24701998-1a73-4d42-8085-bf46ed0ae039")
    );
    assert_eq!(
        tracker.my_participant_id.as_deref(),
        Some("0b3d1d1a-3c6b-4c39-8a89-0d2c4f0e6f11")
    );
    // A later update without them keeps what is known; an empty one is not an answer.
    tracker.apply(&state("established"), &StartedOperations::default());
    let blank = call(
        "updated",
        json!({"@odata.type": "#microsoft.graph.call", "callbackUri": "", "myParticipantId": ""}),
    );
    tracker.apply(&blank, &StartedOperations::default());
    assert!(tracker.callback_uri.is_some() && tracker.my_participant_id.is_some());
}

#[test]
fn a_completion_whose_start_was_never_stored_finds_its_request_by_the_mark() {
    let mut tracker = established();
    let started = StartedOperations::default();
    // After a restart: the record request of entry 7 was sent, its operation id never stored.
    started.insert_unknown((7, 1), OperationKind::RecordResponse);
    let completion = |id: &str, context: &str| {
        one(
            "deleted",
            &format!("/operations/{id}"),
            json!({"id": id, "status": "completed", "clientContext": context,
                "resultInfo": {"code": 200, "subcode": 0}}),
        )
    };
    let applied = tracker.apply(&completion("op-1", "ch1:7.1|voicemail"), &started);
    let [CallEventKind::OperationCompleted(op)] = kinds(&applied)[..] else {
        panic!("{applied:?}")
    };
    assert_eq!(op.kind, OperationKind::RecordResponse);
    assert_eq!(op.operation_id, "op-1");
    assert_eq!(op.client_context.as_deref(), Some("voicemail"));
    // A mark of another place is only taken off; the kind stays unknown.
    let applied = tracker.apply(&completion("op-2", "ch1:9.0"), &started);
    let [CallEventKind::OperationCompleted(op)] = kinds(&applied)[..] else {
        panic!("{applied:?}")
    };
    assert_eq!(op.kind, OperationKind::Unknown);
    assert_eq!(op.client_context, None);
}
