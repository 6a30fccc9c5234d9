//! Each function builds its [`CallAction`] and returns what Graph gave back.

use super::*;

#[tokio::test]
async fn functions_on_the_ringing_call() {
    let fake = Fake::new(Reply::AsGraph);
    let mut event = Event::new(CapabilityPolicy::allow_all(), fake.clone());
    let mut ctx = event.ctx();
    let options = WitAnswerOptions {
        modalities: vec![Modality::Audio],
        prefetch: vec![prompt()],
    };
    ctx.answer("c1".into(), options).await.unwrap();
    ctx.reject("c1".into(), RejectReason::Busy).await.unwrap();
    ctx.redirect("c1".into(), vec![user("u1"), user("u2")], Some(20))
        .await
        .unwrap();
    assert_eq!(
        fake.take(),
        vec![
            CallAction::Answer {
                call_id: "c1".into(),
                options: AnswerOptions {
                    modalities: vec![call::Modality::Audio],
                    prefetch: vec![domain_prompt()],
                },
            },
            CallAction::Reject {
                call_id: "c1".into(),
                reason: call::RejectReason::Busy,
            },
            CallAction::Redirect {
                call_id: "c1".into(),
                targets: vec![domain_user("u1"), domain_user("u2")],
                timeout_seconds: Some(20),
            },
        ]
    );
}

#[tokio::test]
async fn functions_that_end_or_create_calls() {
    let fake = Fake::new(Reply::AsGraph);
    let mut event = Event::new(CapabilityPolicy::allow_all(), fake.clone());
    let mut ctx = event.ctx();
    let transfer = TransferRequest {
        target: user("u1"),
        replaces_call_id: Some("c0".into()),
        transferee: Some(WitTransferee {
            identity: user("u2"),
            participant_id: "p2".into(),
        }),
    };
    ctx.transfer("c1".into(), transfer).await.unwrap();
    ctx.hang_up("c1".into()).await.unwrap();
    let join = JoinRequest {
        meeting: MeetingRef::JoinMeetingId(JoinMeetingIdInfo {
            join_meeting_id: "123".into(),
            passcode: Some("abc".into()),
        }),
        tenant_id: Some("t1".into()),
        display_name: Some("Bot".into()),
    };
    assert_eq!(ctx.join_meeting(join).await.unwrap(), "new-call");
    let place = PlaceCallRequest {
        targets: vec![user("u1")],
        tenant_id: Some("t1".into()),
        subject: Some("Hello".into()),
        source_application_instance: None,
    };
    assert_eq!(ctx.place_call(place).await.unwrap(), "new-call");
    assert_eq!(
        fake.take(),
        vec![
            CallAction::Transfer {
                call_id: "c1".into(),
                request: call::TransferRequest {
                    target: domain_user("u1"),
                    replaces_call_id: Some("c0".into()),
                    transferee: Some(call::Transferee {
                        identity: domain_user("u2"),
                        participant_id: "p2".into(),
                    }),
                },
            },
            CallAction::HangUp {
                call_id: "c1".into(),
            },
            CallAction::JoinMeeting(call::JoinMeeting {
                meeting: call::MeetingRef::JoinMeetingId {
                    join_meeting_id: "123".into(),
                    passcode: Some("abc".into()),
                },
                tenant_id: Some("t1".into()),
                display_name: Some("Bot".into()),
            }),
            CallAction::PlaceCall(call::PlaceCall {
                targets: vec![domain_user("u1")],
                tenant_id: Some("t1".into()),
                subject: Some("Hello".into()),
                source_application_instance: None,
            }),
        ]
    );
}

#[tokio::test]
async fn media_functions() {
    let fake = Fake::new(Reply::AsGraph);
    let mut event = Event::new(CapabilityPolicy::allow_all(), fake.clone());
    let mut ctx = event.ctx();
    let op = ctx.play_prompt("c1".into(), vec![prompt()], ctx_text());
    assert_eq!(op.await.unwrap(), "op-1");
    let options = RecordOptions {
        prompts: vec![prompt()],
        barge_in_allowed: true,
        initial_silence_timeout_seconds: Some(3),
        max_silence_timeout_seconds: None,
        max_record_duration_seconds: Some(30),
        play_beep: false,
        stop_tones: vec!["#".into()],
        client_context: ctx_text(),
    };
    assert_eq!(
        ctx.record_response("c1".into(), options).await.unwrap(),
        "op-1"
    );
    ctx.subscribe_to_tone("c1".into(), ctx_text())
        .await
        .unwrap();
    let tones = vec![Tone::One, Tone::Pound, Tone::Flash];
    let op = ctx.send_dtmf_tones("c1".into(), tones, Some(100), None);
    assert_eq!(op.await.unwrap(), "op-1");
    ctx.cancel_media_processing("c1".into(), None)
        .await
        .unwrap();
    assert_eq!(
        fake.take(),
        vec![
            CallAction::PlayPrompt {
                call_id: "c1".into(),
                prompts: vec![domain_prompt()],
                client_context: ctx_text(),
            },
            CallAction::RecordResponse {
                call_id: "c1".into(),
                options: call::RecordOptions {
                    prompts: vec![domain_prompt()],
                    barge_in_allowed: true,
                    initial_silence_timeout_seconds: Some(3),
                    max_silence_timeout_seconds: None,
                    max_record_duration_seconds: Some(30),
                    play_beep: false,
                    stop_tones: vec!["#".into()],
                    client_context: ctx_text(),
                },
            },
            CallAction::SubscribeToTone {
                call_id: "c1".into(),
                client_context: ctx_text(),
            },
            CallAction::SendDtmfTones {
                call_id: "c1".into(),
                tones: vec![call::Tone::Tone1, call::Tone::Pound, call::Tone::Flash],
                delay_between_tones_ms: Some(100),
                client_context: None,
            },
            CallAction::CancelMediaProcessing {
                call_id: "c1".into(),
                client_context: None,
            },
        ]
    );
}

#[tokio::test]
async fn roster_functions() {
    let fake = Fake::new(Reply::AsGraph);
    let mut event = Event::new(CapabilityPolicy::allow_all(), fake.clone());
    let mut ctx = event.ctx();
    ctx.mute("c1".into(), ctx_text()).await.unwrap();
    ctx.unmute("c1".into(), None).await.unwrap();
    let op = ctx.mute_participant("c1".into(), "p2".into(), None);
    assert_eq!(op.await.unwrap(), "op-1");
    let invitee = Invitee {
        identity: user("u3"),
        replaces_call_id: None,
        participant_id: Some("p3".into()),
    };
    let op = ctx.invite_participants("c1".into(), vec![invitee], ctx_text());
    assert_eq!(op.await.unwrap(), "op-1");
    let op = ctx.start_hold_music("c1".into(), "p2".into(), Some(prompt()), None);
    assert_eq!(op.await.unwrap(), "op-1");
    let op = ctx.stop_hold_music("c1".into(), "p2".into(), ctx_text());
    assert_eq!(op.await.unwrap(), "op-1");
    assert_eq!(
        fake.take(),
        vec![
            CallAction::Mute {
                call_id: "c1".into(),
                client_context: ctx_text(),
            },
            CallAction::Unmute {
                call_id: "c1".into(),
                client_context: None,
            },
            CallAction::MuteParticipant {
                call_id: "c1".into(),
                participant_id: "p2".into(),
                client_context: None,
            },
            CallAction::InviteParticipants {
                call_id: "c1".into(),
                participants: vec![call::Invitee {
                    identity: domain_user("u3"),
                    replaces_call_id: None,
                    participant_id: Some("p3".into()),
                }],
                client_context: ctx_text(),
            },
            CallAction::StartHoldMusic {
                call_id: "c1".into(),
                participant_id: "p2".into(),
                custom_prompt: Some(domain_prompt()),
                client_context: None,
            },
            CallAction::StopHoldMusic {
                call_id: "c1".into(),
                participant_id: "p2".into(),
                client_context: ctx_text(),
            },
        ]
    );
}

#[test]
fn every_plugin_function_is_covered_above() {
    // The four tests above call each of these once; a new function must join them.
    let functions: Vec<ActionKind> = ActionKind::plugin_functions().collect();
    assert_eq!(functions.len(), 18);
}
