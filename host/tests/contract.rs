//! The WIT contract, both directions, through the recording test plugin: every event kind
//! reaches a plugin with every field, and every call-control function reaches the host with
//! every argument. Plus call state across the events of a call, and its release at the end.

use std::sync::Arc;
use std::time::Duration;

use crate::support::*;
use callhost::call::*;
use callhost::dispatch::{Dispatcher, DispatcherSettings, Route};
use callhost::plugins::{PluginRegistry, PluginSource};
use callhost::policy::CapabilityPolicy;
use callhost::runtime::{
    EventInput, MemoryStateStore, Outcome, PluginSpec, PluginVersion, Runtime, RuntimeSettings,
    StateScope, StateStore,
};
use serde_json::{Value, json};

const CALL: &str = "c1";

fn recorder(runtime: &Runtime, config: &[(&str, &str)]) -> PluginVersion {
    let mut spec = PluginSpec::new("recorder");
    spec.policy = CapabilityPolicy::allow_all();
    spec.config = config
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    runtime.load_file(spec, &plugin_path("recorder")).unwrap()
}

fn call_state(state: &MemoryStateStore, key: &str) -> Value {
    let scope = StateScope::Call {
        plugin: "recorder".into(),
        call_id: CALL.into(),
    };
    let bytes = state
        .get(&scope, key)
        .unwrap_or_else(|| panic!("call state `{key}` is missing"));
    serde_json::from_slice(&bytes).unwrap()
}

fn who(kind: IdentityKind, id: &str, name: Option<&str>, tenant: Option<&str>) -> Identity {
    Identity {
        kind,
        id: id.into(),
        display_name: name.map(String::from),
        tenant_id: tenant.map(String::from),
    }
}

fn participant(id: &str, muted: bool, lobby: bool, me: bool) -> Participant {
    Participant {
        participant_id: id.into(),
        identity: who(IdentityKind::Guest, &format!("g-{id}"), Some("Guest"), None),
        is_muted: muted,
        in_lobby: lobby,
        is_self: me,
    }
}

fn every_event_kind() -> Vec<(CallEventKind, Value)> {
    vec![
        (
            CallEventKind::IncomingCall(IncomingCall {
                caller: who(IdentityKind::Phone, "+14255550100", Some("Alex"), None),
                callees: vec![
                    who(IdentityKind::ApplicationInstance, "ai-1", None, Some("t-1")),
                    who(IdentityKind::Encrypted, "enc", None, None),
                ],
                requested_modalities: vec![Modality::Audio, Modality::VideoBasedScreenSharing],
                meeting: Some(MeetingInvite {
                    chat: Some(ChatInfo {
                        thread_id: "19:meeting@thread.v2".into(),
                        message_id: "0".into(),
                        reply_chain_message_id: Some("r-1".into()),
                    }),
                    meeting: Some(MeetingInfo::JoinMeetingId {
                        join_meeting_id: "123".into(),
                        passcode: None,
                    }),
                }),
                call_chain_id: Some("chain".into()),
            }),
            json!({"incoming-call": {
                "caller": {"kind": "phone", "id": "+14255550100", "display-name": "Alex", "tenant-id": null},
                "callees": [{"kind": "application-instance", "id": "ai-1", "display-name": null, "tenant-id": "t-1"},
                            {"kind": "encrypted", "id": "enc", "display-name": null, "tenant-id": null}],
                "requested-modalities": ["audio", "video-based-screen-sharing"],
                "meeting": {"chat": {"thread-id": "19:meeting@thread.v2", "message-id": "0", "reply-chain-message-id": "r-1"},
                            "meeting": {"join-meeting-id": {"join-meeting-id": "123", "passcode": null}}},
                "call-chain-id": "chain"}}),
        ),
        (
            CallEventKind::StateChanged(StateChanged {
                state: CallState::Terminated,
                previous: CallState::TransferAccepted,
                result: Some(ResultInfo {
                    code: 0,
                    subcode: 7015,
                    message: Some("GracefulTransferCompleted".into()),
                }),
                termination_reason: Some("AppTransferred".into()),
            }),
            json!({"state-changed": {"state": "terminated", "previous": "transfer-accepted",
                "result": {"code": 0, "subcode": 7015, "message": "GracefulTransferCompleted"}, "termination-reason": "AppTransferred"}}),
        ),
        (
            CallEventKind::ToneReceived(ToneReceived {
                tone: Tone::Pound,
                sequence_id: 42,
            }),
            json!({"tone-received": {"tone": "pound", "sequence-id": 42}}),
        ),
        (
            CallEventKind::OperationCompleted(OperationCompleted {
                operation_id: "op-9".into(),
                kind: OperationKind::RecordResponse,
                status: OperationStatus::Completed,
                client_context: Some("ctx".into()),
                result: Some(ResultInfo {
                    code: 200,
                    subcode: 8515,
                    message: None,
                }),
                recording_location: Some("https://file.location/rec".into()),
                recording_access_token: Some("token".into()),
                completion_reason: Some("maxRecordDurationReached".into()),
            }),
            json!({"operation-completed": {"operation-id": "op-9", "kind": "record-response", "status": "completed", "client-context": "ctx",
                "result": {"code": 200, "subcode": 8515, "message": null}, "recording-location": "https://file.location/rec",
                "recording-access-token": "token", "completion-reason": "maxRecordDurationReached"}}),
        ),
        (
            CallEventKind::ParticipantsChanged(ParticipantsChanged {
                joined: vec![participant("p1", false, true, false)],
                left: vec![participant("p2", false, false, false)],
                updated: vec![participant("me", true, false, true)],
                sequence_number: Some(7),
            }),
            json!({"participants-changed": {
                "joined": [{"participant-id": "p1", "identity": {"kind": "guest", "id": "g-p1", "display-name": "Guest", "tenant-id": null}, "is-muted": false, "in-lobby": true, "is-self": false}],
                "left": [{"participant-id": "p2", "identity": {"kind": "guest", "id": "g-p2", "display-name": "Guest", "tenant-id": null}, "is-muted": false, "in-lobby": false, "is-self": false}],
                "updated": [{"participant-id": "me", "identity": {"kind": "guest", "id": "g-me", "display-name": "Guest", "tenant-id": null}, "is-muted": true, "in-lobby": false, "is-self": true}],
                "sequence-number": 7}}),
        ),
        (
            CallEventKind::Other {
                resource_type: Some("#microsoft.graph.contentSharingSession".into()),
            },
            json!({"other": {"resource-type": "#microsoft.graph.contentSharingSession"}}),
        ),
    ]
}

#[tokio::test]
async fn every_event_kind_reaches_the_plugin_with_every_field() {
    let runtime = Runtime::new(RuntimeSettings::default()).unwrap();
    let plugin = recorder(&runtime, &[("greeting", "hello")]);
    let state = Arc::new(MemoryStateStore::new());
    let control = RecordingControl::with_calls(&[CALL]);
    let kinds = every_event_kind();
    let call = CallContext {
        call_id: CALL.into(),
        direction: CallDirection::Outgoing,
        tenant_id: Some("t-1".into()),
        state: CallState::Established,
        my_participant_id: Some("me".into()),
        bot_app_id: "bot-app".into(),
        created_by_plugin: true,
    };
    for (i, (kind, _)) in kinds.iter().enumerate() {
        let event = CallEvent {
            kind: kind.clone(),
            change_type: [
                ChangeType::Created,
                ChangeType::Updated,
                ChangeType::Deleted,
            ][i % 3],
            resource_url: format!("/communications/calls/{CALL}/r{i}"),
            raw: format!("{{\"n\":{i}}}"),
        };
        let invocation = runtime
            .invoke(
                &plugin,
                EventInput {
                    call: call.clone(),
                    event,
                    control: control.clone(),
                    state: state.clone(),
                    timers: Default::default(),
                },
            )
            .await;
        assert_eq!(invocation.outcome, Outcome::Completed);
    }
    let events = call_state(&state, "events");
    let events = events.as_array().unwrap();
    assert_eq!(events.len(), kinds.len());
    for (i, ((_, expected), got)) in kinds.iter().zip(events).enumerate() {
        assert_eq!(&got["event"]["kind"], expected, "event {i}");
        assert_eq!(
            got["event"]["change-type"],
            ["created", "updated", "deleted"][i % 3]
        );
        assert_eq!(
            got["event"]["resource-url"],
            format!("/communications/calls/{CALL}/r{i}")
        );
        assert_eq!(got["event"]["raw"], format!("{{\"n\":{i}}}"));
        assert_eq!(
            got["call"],
            json!({"call-id": CALL, "direction": "outgoing", "tenant-id": "t-1", "state": "established",
                   "my-participant-id": "me", "bot-app-id": "bot-app", "created-by-plugin": true})
        );
    }
    assert_eq!(call_state(&state, "config"), json!([["greeting", "hello"]]));
}

fn every_function() -> (Value, Vec<CallAction>) {
    let user = |id: &str| json!({"kind": "user", "id": id, "display-name": "U", "tenant-id": "t"});
    let user_identity = |id: &str| Identity {
        display_name: Some("U".into()),
        tenant_id: Some("t".into()),
        ..Identity::user(id)
    };
    let prompt = |uri: &str| MediaPrompt {
        uri: uri.into(),
        resource_id: Some("r".into()),
    };
    let actions = json!([
        {"fn": "answer", "call": "$call", "modalities": ["audio", "video"], "prefetch": [{"uri": "https://m/a.wav", "resource-id": "r"}]},
        {"fn": "reject", "call": "$call", "reason": "forbidden"},
        {"fn": "redirect", "call": "$call", "targets": [user("u1"), {"kind": "phone", "id": "+1425"}], "timeout-seconds": 20},
        {"fn": "transfer", "call": "$call", "target": user("u2"), "replaces-call-id": "c2", "transferee": {"identity": user("u3"), "participant-id": "p3"}},
        {"fn": "hang-up", "call": "c2"},
        {"fn": "join-meeting", "meeting": {"join-meeting-id": {"join-meeting-id": "987", "passcode": "pw"}}, "tenant-id": "t", "display-name": "Bot"},
        {"fn": "join-meeting", "meeting": {"join-url": "https://teams.microsoft.com/meet/1?p=x"}},
        {"fn": "place-call", "targets": [{"kind": "phone", "id": "+1"}], "tenant-id": "t", "subject": "s", "source-application-instance": {"kind": "application-instance", "id": "ai"}},
        {"fn": "play-prompt", "call": "$call", "prompts": [{"uri": "https://m/b.wav", "resource-id": "r"}], "client-context": "cc"},
        {"fn": "record-response", "call": "$call", "prompts": [], "barge-in-allowed": true, "initial-silence-timeout-seconds": 2,
         "max-silence-timeout-seconds": 3, "max-record-duration-seconds": 4, "play-beep": false, "stop-tones": ["#"], "client-context": "rec"},
        {"fn": "subscribe-to-tone", "call": "$call", "client-context": "t"},
        {"fn": "send-dtmf-tones", "call": "$call", "tones": ["zero", "star", "d"], "delay-between-tones-ms": 100, "client-context": null},
        {"fn": "cancel-media-processing", "call": "$call"},
        {"fn": "mute", "call": "$call", "client-context": "m"},
        {"fn": "unmute", "call": "$call"},
        {"fn": "mute-participant", "call": "$call", "participant-id": "p5", "client-context": "mp"},
        {"fn": "invite-participants", "call": "$call", "participants": [{"identity": user("u6"), "replaces-call-id": "c2", "participant-id": "p6"}], "client-context": "inv"},
        {"fn": "start-hold-music", "call": "$call", "participant-id": "p7", "custom-prompt": {"uri": "https://m/h.wav", "resource-id": "r"}, "client-context": "h"},
        {"fn": "stop-hold-music", "call": "$call", "participant-id": "p7"}
    ]);
    let c = || CALL.to_string();
    let expected = vec![
        CallAction::Answer {
            call_id: c(),
            options: AnswerOptions {
                modalities: vec![Modality::Audio, Modality::Video],
                prefetch: vec![prompt("https://m/a.wav")],
            },
        },
        CallAction::Reject {
            call_id: c(),
            reason: RejectReason::Forbidden,
        },
        CallAction::Redirect {
            call_id: c(),
            targets: vec![user_identity("u1"), Identity::phone("+1425")],
            timeout_seconds: Some(20),
        },
        CallAction::Transfer {
            call_id: c(),
            request: TransferRequest {
                target: user_identity("u2"),
                replaces_call_id: Some("c2".into()),
                transferee: Some(Transferee {
                    identity: user_identity("u3"),
                    participant_id: "p3".into(),
                }),
            },
        },
        CallAction::HangUp {
            call_id: "c2".into(),
        },
        CallAction::JoinMeeting(JoinMeeting {
            meeting: MeetingRef::JoinMeetingId {
                join_meeting_id: "987".into(),
                passcode: Some("pw".into()),
            },
            tenant_id: Some("t".into()),
            display_name: Some("Bot".into()),
        }),
        CallAction::JoinMeeting(JoinMeeting {
            meeting: MeetingRef::JoinUrl("https://teams.microsoft.com/meet/1?p=x".into()),
            tenant_id: None,
            display_name: None,
        }),
        CallAction::PlaceCall(PlaceCall {
            targets: vec![Identity::phone("+1")],
            tenant_id: Some("t".into()),
            subject: Some("s".into()),
            source_application_instance: Some(Identity::new(
                IdentityKind::ApplicationInstance,
                "ai",
            )),
        }),
        CallAction::PlayPrompt {
            call_id: c(),
            prompts: vec![prompt("https://m/b.wav")],
            client_context: Some("cc".into()),
        },
        CallAction::RecordResponse {
            call_id: c(),
            options: RecordOptions {
                prompts: vec![],
                barge_in_allowed: true,
                initial_silence_timeout_seconds: Some(2),
                max_silence_timeout_seconds: Some(3),
                max_record_duration_seconds: Some(4),
                play_beep: false,
                stop_tones: vec!["#".into()],
                client_context: Some("rec".into()),
            },
        },
        CallAction::SubscribeToTone {
            call_id: c(),
            client_context: Some("t".into()),
        },
        CallAction::SendDtmfTones {
            call_id: c(),
            tones: vec![Tone::Tone0, Tone::Star, Tone::D],
            delay_between_tones_ms: Some(100),
            client_context: None,
        },
        CallAction::CancelMediaProcessing {
            call_id: c(),
            client_context: None,
        },
        CallAction::Mute {
            call_id: c(),
            client_context: Some("m".into()),
        },
        CallAction::Unmute {
            call_id: c(),
            client_context: None,
        },
        CallAction::MuteParticipant {
            call_id: c(),
            participant_id: "p5".into(),
            client_context: Some("mp".into()),
        },
        CallAction::InviteParticipants {
            call_id: c(),
            participants: vec![Invitee {
                identity: user_identity("u6"),
                replaces_call_id: Some("c2".into()),
                participant_id: Some("p6".into()),
            }],
            client_context: Some("inv".into()),
        },
        CallAction::StartHoldMusic {
            call_id: c(),
            participant_id: "p7".into(),
            custom_prompt: Some(prompt("https://m/h.wav")),
            client_context: Some("h".into()),
        },
        CallAction::StopHoldMusic {
            call_id: c(),
            participant_id: "p7".into(),
            client_context: None,
        },
    ];
    (actions, expected)
}

#[tokio::test]
async fn every_call_control_function_reaches_the_host_with_every_argument() {
    let runtime = Runtime::new(RuntimeSettings::default()).unwrap();
    let (actions, expected) = every_function();
    let plugin = recorder(&runtime, &[("actions", &actions.to_string())]);
    let state = Arc::new(MemoryStateStore::new());
    let control = RecordingControl::with_calls(&[CALL, "c2"]);
    let invocation = runtime
        .invoke(
            &plugin,
            EventInput {
                call: context(CALL, CallState::Established),
                event: incoming_call(CALL),
                control: control.clone(),
                state: state.clone(),
                timers: Default::default(),
            },
        )
        .await;
    assert_eq!(invocation.outcome, Outcome::Completed);
    let got = control.actions();
    assert_eq!(got.len(), expected.len());
    for (got, expected) in got.iter().zip(&expected) {
        assert_eq!(got, expected);
    }
    // And what the plugin got back: ids for the functions that return one.
    let results = call_state(&state, "results");
    let results = results.as_array().unwrap();
    assert_eq!(results.len(), expected.len());
    assert_eq!(results[0], json!({"fn": "answer", "ok": null}));
    assert!(
        results[5]["ok"].as_str().unwrap().starts_with("new-call-"),
        "{}",
        results[5]
    );
    assert!(
        results[8]["ok"].as_str().unwrap().starts_with("op-"),
        "{}",
        results[8]
    );
}

#[tokio::test]
async fn errors_and_policy_denials_reach_the_plugin_typed() {
    let runtime = Runtime::new(RuntimeSettings::default()).unwrap();
    let actions = json!([
        {"fn": "hang-up", "call": "no-such-call"},
        {"fn": "place-call", "targets": [{"kind": "user", "id": "u"}]},
        {"fn": "transfer", "call": "$call", "target": {"kind": "phone", "id": "+1900"}}
    ]);
    let mut spec = PluginSpec::new("recorder");
    spec.config.insert("actions".into(), actions.to_string());
    let plugin = runtime.load_file(spec, &plugin_path("recorder")).unwrap();
    let state = Arc::new(MemoryStateStore::new());
    let control = RecordingControl::with_calls(&[CALL]);
    runtime
        .invoke(
            &plugin,
            EventInput {
                call: context(CALL, CallState::Established),
                event: incoming_call(CALL),
                control: control.clone(),
                state: state.clone(),
                timers: Default::default(),
            },
        )
        .await;
    let results = call_state(&state, "results");
    assert_eq!(results[0], json!({"fn": "hang-up", "err": "not-found"}));
    assert!(
        results[1]["err"]["not-permitted"]
            .as_str()
            .unwrap()
            .contains("place-call"),
        "{}",
        results[1]
    );
    assert!(
        results[2]["err"]["not-permitted"]
            .as_str()
            .unwrap()
            .contains("phone"),
        "{}",
        results[2]
    );
    assert!(control.actions().is_empty(), "denied actions reach nothing");
}

#[tokio::test]
async fn state_writes_of_a_trapped_event_are_discarded() {
    let runtime = Runtime::new(RuntimeSettings::default()).unwrap();
    // A returned error is the plugin's own decision: its writes are kept.
    let plugin = recorder(&runtime, &[("actions", "not json")]);
    let state = Arc::new(MemoryStateStore::new());
    let control = RecordingControl::with_calls(&[CALL]);
    let invocation = runtime
        .invoke(
            &plugin,
            EventInput {
                call: context(CALL, CallState::Established),
                event: incoming_call(CALL),
                control,
                state: state.clone(),
                timers: Default::default(),
            },
        )
        .await;
    assert!(
        matches!(invocation.outcome, Outcome::Failed { .. }),
        "{:?}",
        invocation.outcome
    );
    assert_eq!(
        call_state(&state, "events").as_array().unwrap().len(),
        1,
        "a returned error keeps the event's writes"
    );

    let limits = callhost::runtime::PluginLimits {
        host_calls: 3,
        ..Default::default()
    };
    let mut spec = PluginSpec::new("recorder");
    spec.limits = limits;
    let plugin = runtime.load_file(spec, &plugin_path("recorder")).unwrap();
    let state = Arc::new(MemoryStateStore::new());
    let invocation = runtime
        .invoke(
            &plugin,
            EventInput {
                call: context(CALL, CallState::Established),
                event: incoming_call(CALL),
                control: RecordingControl::with_calls(&[CALL]),
                state: state.clone(),
                timers: Default::default(),
            },
        )
        .await;
    assert!(
        matches!(invocation.outcome, Outcome::HostCallLimit { .. }),
        "{:?}",
        invocation.outcome
    );
    assert_eq!(
        state.scope_count(),
        0,
        "an invocation stopped by the host leaves no state behind"
    );
}

fn notification(body: Value) -> callhost::graph::notification::CommsNotification {
    callhost::graph::notification::parse(&serde_json::to_vec(&body).unwrap())
        .unwrap()
        .remove(0)
}

#[tokio::test]
async fn call_state_lives_as_long_as_the_call() {
    let runtime = Runtime::new(RuntimeSettings::default()).unwrap();
    let plugins = PluginRegistry::new();
    let version = recorder(&runtime, &[]);
    let source = PluginSource {
        path: plugin_path("recorder"),
        sha256: None,
        on_reload: Default::default(),
        spec: PluginSpec {
            id: "recorder".into(),
            config: version.info.config.clone(),
            limits: version.info.limits.clone(),
            policy: version.info.policy.clone(),
            allowed_outbound_hosts: version.info.allowed_outbound_hosts.clone(),
        },
    };
    plugins.install(source, version, Duration::ZERO);
    let state = Arc::new(MemoryStateStore::new());
    let control = RecordingControl::with_calls(&[CALL]);
    let dispatcher = Dispatcher::new(
        DispatcherSettings::new("bot-app"),
        runtime,
        plugins,
        vec![Route::default_to("recorder")],
        state.clone(),
        control,
    );
    let url = format!("/communications/calls/{CALL}");
    let incoming = json!({"@odata.type": "#microsoft.graph.commsNotifications", "value": [{"changeType": "created", "resourceUrl": url,
        "resourceData": {"@odata.type": "#microsoft.graph.call", "state": "incoming", "direction": "incoming",
            "source": {"identity": {"user": {"id": "u"}}}, "targets": [{"identity": {"application": {"id": "bot-app"}}}]}}]});
    let established = json!({"@odata.type": "#microsoft.graph.commsNotifications", "value": [{"changeType": "updated", "resourceUrl": url,
        "resourceData": {"@odata.type": "#microsoft.graph.call", "state": "established"}}]});
    let ended = json!({"@odata.type": "#microsoft.graph.commsNotifications", "value": [{"changeType": "deleted", "resourceUrl": url,
        "resourceData": {"@odata.type": "#microsoft.graph.call", "state": "terminated", "resultInfo": {"code": "200", "subCode": "4097"}}}]});
    dispatcher
        .accept(vec![notification(incoming)], "t")
        .await
        .unwrap();
    dispatcher
        .accept(vec![notification(established)], "t")
        .await
        .unwrap();
    assert!(dispatcher.drain(Duration::from_secs(10)).await);
    assert_eq!(
        call_state(&state, "events").as_array().unwrap().len(),
        2,
        "the second event saw the first one's state"
    );
    dispatcher
        .accept(vec![notification(ended)], "t")
        .await
        .unwrap();
    assert!(dispatcher.drain(Duration::from_secs(10)).await);
    let call_scope = StateScope::Call {
        plugin: "recorder".into(),
        call_id: CALL.into(),
    };
    assert_eq!(
        state.get(&call_scope, "events"),
        None,
        "call state is dropped when the call ends"
    );
    let plugin_scope = StateScope::Plugin {
        plugin: "recorder".into(),
    };
    assert_eq!(
        state.get(&plugin_scope, "last-call"),
        Some(CALL.as_bytes().to_vec()),
        "plugin state outlives the call"
    );
    assert!(dispatcher.calls().is_empty());
}
