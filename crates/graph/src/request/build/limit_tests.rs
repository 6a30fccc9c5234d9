//! Requests without a docs example, and the arguments Graph would refuse.

use super::*;
use crate::request::Method;
use callhost_call::{
    Identity, IdentityKind, Invitee, JoinMeeting, MediaPrompt, MeetingRef, PlaceCall, Transferee,
};

fn ctx() -> RequestContext {
    RequestContext {
        callback_uri: "https://bot.example/callback".into(),
        bot_app_id: "app-id".into(),
        bot_display_name: None,
        default_tenant_id: None,
    }
}

fn invalid_message(action: CallAction, ctx: &RequestContext) -> String {
    match build(&action, ctx) {
        Err(CallError::InvalidArgument(message)) => message,
        other => panic!("{action:?}: expected an invalid argument, got {other:?}"),
    }
}

fn prompts(n: usize) -> Vec<MediaPrompt> {
    (0..n)
        .map(|i| MediaPrompt::new(format!("https://cdn.example/{i}.wav")))
        .collect()
}

#[test]
fn hang_up_and_keep_alive_have_no_body() {
    let hang_up = build(
        &CallAction::HangUp {
            call_id: "c1".into(),
        },
        &ctx(),
    )
    .unwrap();
    assert_eq!(hang_up, GraphRequest::delete("/communications/calls/c1"));
    let keep_alive = build(
        &CallAction::KeepAlive {
            call_id: "c1".into(),
        },
        &ctx(),
    )
    .unwrap();
    assert_eq!(
        keep_alive,
        GraphRequest::post_empty("/communications/calls/c1/keepAlive")
    );
}

#[test]
fn optional_fields_are_left_out_and_ids_stay_in_their_segment() {
    let mute = build(
        &CallAction::Mute {
            call_id: "c1".into(),
            client_context: None,
        },
        &ctx(),
    )
    .unwrap();
    assert_eq!(mute.body, Some(json!({})));
    let answer = CallAction::Answer {
        call_id: "c1".into(),
        options: AnswerOptions {
            modalities: vec![],
            prefetch: vec![],
        },
    };
    let body = build(&answer, &ctx()).unwrap().body.unwrap();
    assert_eq!(body["acceptedModalities"], json!(["audio"]));
    assert_eq!(
        body["mediaConfig"],
        json!({"@odata.type": "#microsoft.graph.serviceHostedMediaConfig"})
    );
    let sneaky = CallAction::MuteParticipant {
        call_id: "c1/../x".into(),
        participant_id: "p?1#".into(),
        client_context: None,
    };
    assert_eq!(
        build(&sneaky, &ctx()).unwrap().path,
        "/communications/calls/c1%2F..%2Fx/participants/p%3F1%23/mute"
    );
    let redirect = CallAction::Redirect {
        call_id: "c1".into(),
        targets: vec![Identity::user("u")],
        timeout_seconds: Some(15),
    };
    assert_eq!(
        build(&redirect, &ctx()).unwrap().body.unwrap()["timeout"],
        json!(15)
    );
}

#[test]
fn a_display_name_makes_the_bot_the_named_source() {
    let named = RequestContext {
        bot_display_name: Some("Reception".into()),
        ..ctx()
    };
    let join = CallAction::JoinMeeting(JoinMeeting {
        meeting: MeetingRef::JoinMeetingId {
            join_meeting_id: "1".into(),
            passcode: Some(String::new()),
        },
        tenant_id: Some("t".into()),
        display_name: Some("Notes bot".into()),
    });
    let request = build(&join, &named).unwrap();
    assert_eq!(request.method, Method::Post);
    let body = request.body.unwrap();
    assert_eq!(
        body["source"]["identity"]["application"],
        json!({"@odata.type": "#microsoft.graph.identity", "id": "app-id", "displayName": "Notes bot"})
    );
    assert_eq!(body["meetingInfo"]["passcode"], Value::Null);
    let place = CallAction::PlaceCall(PlaceCall {
        targets: vec![Identity::user("u")],
        tenant_id: None,
        subject: None,
        source_application_instance: None,
    });
    let body = build(&place, &named).unwrap().body.unwrap();
    assert_eq!(
        body["source"]["identity"]["application"]["displayName"],
        json!("Reception")
    );
    assert_eq!(
        build(&place, &ctx()).unwrap().body.unwrap().get("source"),
        None
    );
}

#[test]
fn limits_name_the_field_and_the_limit() {
    let c = ctx();
    let play = |n| CallAction::PlayPrompt {
        call_id: "c1".into(),
        prompts: prompts(n),
        client_context: None,
    };
    assert_eq!(
        invalid_message(play(0), &c),
        "play-prompt: `prompts` holds 0 entries; Graph accepts 1 to 20"
    );
    assert!(invalid_message(play(21), &c).contains("holds 21 entries; Graph accepts 1 to 20"));
    assert!(build(&play(20), &c).is_ok());

    let redirect = |n, timeout| CallAction::Redirect {
        call_id: "c1".into(),
        targets: vec![Identity::user("u"); n],
        timeout_seconds: timeout,
    };
    assert!(
        invalid_message(redirect(26, None), &c)
            .contains("`targets` holds 26 entries; Graph accepts 1 to 25")
    );
    assert!(invalid_message(redirect(0, None), &c).contains("`targets`"));
    assert_eq!(
        invalid_message(redirect(1, Some(14)), &c),
        "redirect: `timeout_seconds` is 14; Graph accepts 15 to 90"
    );
    assert!(invalid_message(redirect(1, Some(91)), &c).contains("is 91"));

    let invite = |n| CallAction::InviteParticipants {
        call_id: "c1".into(),
        participants: vec![
            Invitee {
                identity: Identity::user("u"),
                replaces_call_id: None,
                participant_id: None
            };
            n
        ],
        client_context: None,
    };
    assert!(
        invalid_message(invite(6), &c)
            .contains("`participants` holds 6 entries; Graph accepts 1 to 5")
    );

    let long = CallAction::Mute {
        call_id: "c1".into(),
        client_context: Some("x".repeat(257)),
    };
    assert_eq!(
        invalid_message(long, &c),
        "mute: `client_context` has 257 characters; Graph accepts at most 256"
    );
    assert!(
        build(
            &CallAction::Mute {
                call_id: "c1".into(),
                client_context: Some("é".repeat(256))
            },
            &c
        )
        .is_ok()
    );

    let record = |options| CallAction::RecordResponse {
        call_id: "c1".into(),
        options,
    };
    assert!(
        invalid_message(
            record(RecordOptions {
                prompts: prompts(2),
                ..Default::default()
            }),
            &c
        )
        .contains("at most 1")
    );
    let zero = RecordOptions {
        max_record_duration_seconds: Some(0),
        ..Default::default()
    };
    assert!(
        invalid_message(record(zero), &c)
            .contains("`max_record_duration_seconds` is 0; Graph accepts 1 to 120")
    );
    let key = RecordOptions {
        stop_tones: vec!["##".into()],
        ..Default::default()
    };
    assert!(invalid_message(record(key), &c).contains("`stop_tones[0]`"));

    let dtmf = CallAction::SendDtmfTones {
        call_id: "c1".into(),
        tones: vec![],
        delay_between_tones_ms: None,
        client_context: None,
    };
    assert!(
        invalid_message(dtmf, &c).contains("`tones` holds 0 entries; Graph accepts at least 1")
    );
}

#[test]
fn ids_identities_and_prompts_must_be_usable() {
    let c = ctx();
    assert_eq!(
        invalid_message(
            CallAction::HangUp {
                call_id: " ".into()
            },
            &c
        ),
        "hang-up: `call_id` is empty; it must name an existing id"
    );
    assert!(
        invalid_message(
            CallAction::KeepAlive {
                call_id: "..".into()
            },
            &c
        )
        .contains("not an id")
    );
    let stop = CallAction::StopHoldMusic {
        call_id: "c1".into(),
        participant_id: String::new(),
        client_context: None,
    };
    assert!(invalid_message(stop, &c).contains("`participant_id` is empty"));
    let transfer = |target: Identity, transferee| CallAction::Transfer {
        call_id: "c1".into(),
        request: TransferRequest {
            target,
            replaces_call_id: None,
            transferee,
        },
    };
    assert!(
        invalid_message(
            transfer(Identity::new(IdentityKind::Unknown, "x"), None),
            &c
        )
        .contains("`target.identity` has identity kind `unknown`")
    );
    assert!(
        invalid_message(transfer(Identity::user(""), None), &c)
            .contains("`target.identity.id` is empty")
    );
    let nobody = Transferee {
        identity: Identity::user("u"),
        participant_id: String::new(),
    };
    assert!(
        invalid_message(transfer(Identity::user("u"), Some(nobody)), &c)
            .contains("`transferee.participant_id` is empty")
    );
    let blank = CallAction::PlayPrompt {
        call_id: "c1".into(),
        prompts: vec![MediaPrompt::new("")],
        client_context: None,
    };
    assert!(invalid_message(blank, &c).contains("`prompts[0].uri` is empty"));
}

#[test]
fn meetings_and_phone_calls_need_their_tenant() {
    let c = ctx();
    let join = |meeting, tenant: Option<&str>| {
        CallAction::JoinMeeting(JoinMeeting {
            meeting,
            tenant_id: tenant.map(Into::into),
            display_name: None,
        })
    };
    let short = || MeetingRef::JoinUrl("https://teams.microsoft.com/meet/42?p=x".into());
    let message = invalid_message(join(short(), None), &c);
    assert!(
        message.starts_with("join-meeting: `tenant_id` is missing: a /meet/ link"),
        "{message}"
    );
    assert!(
        message.contains("set `tenant_id` in the request or configure a default tenant"),
        "{message}"
    );
    let with_default = RequestContext {
        default_tenant_id: Some("dt".into()),
        ..ctx()
    };
    assert_eq!(
        build(&join(short(), None), &with_default)
            .unwrap()
            .body
            .unwrap()["tenantId"],
        json!("dt")
    );
    assert_eq!(
        build(&join(short(), Some("rt")), &with_default)
            .unwrap()
            .body
            .unwrap()["tenantId"],
        json!("rt")
    );
    let id = MeetingRef::JoinMeetingId {
        join_meeting_id: String::new(),
        passcode: None,
    };
    assert!(invalid_message(join(id, Some("t")), &c).contains("`join_meeting_id` is empty"));
    let bad = invalid_message(
        join(MeetingRef::JoinUrl("https://zoom.us/j/1".into()), None),
        &c,
    );
    assert!(
        bad.starts_with(
            "join-meeting: `meeting`: join URL host \"zoom.us\" is not a Teams host; expected"
        ),
        "{bad}"
    );

    let place = |targets: Vec<Identity>, tenant: Option<&str>, source: Option<Identity>| {
        CallAction::PlaceCall(PlaceCall {
            targets,
            tenant_id: tenant.map(Into::into),
            subject: None,
            source_application_instance: source,
        })
    };
    let instance = Identity::new(IdentityKind::ApplicationInstance, "ai");
    let phone = || vec![Identity::phone("+1")];
    assert!(
        invalid_message(place(phone(), None, Some(instance.clone())), &c)
            .contains("`tenant_id` is missing: calling a phone number")
    );
    assert!(
        invalid_message(place(phone(), Some("t"), None), &c)
            .contains("`source_application_instance` is missing")
    );
    assert_eq!(
        build(&place(phone(), None, Some(instance)), &with_default)
            .unwrap()
            .body
            .unwrap()["tenantId"],
        json!("dt")
    );
    assert!(
        invalid_message(place(vec![], None, None), &c)
            .contains("`targets` holds 0 entries; Graph accepts 1 to 5")
    );
    assert!(
        invalid_message(place(vec![Identity::user("u"); 6], None, None), &c)
            .contains("holds 6 entries")
    );
}
