//! Every call action's request against the docs example it corresponds to.

use super::*;
use crate::request::Method;
use crate::request::compare::{Exception, assert_matches_docs};
use callhost_call::{
    Identity, IdentityKind, Invitee, JoinMeeting, MediaPrompt, MeetingRef, Modality, PlaceCall,
    RejectReason, Transferee,
};

mod new_calls;
mod participants;

const NOT_IN_DOMAIN_LANGUAGE: Exception = (
    "/transferTarget/languageId",
    "TransferRequest carries no language; optional",
);
const NOT_IN_DOMAIN_REGION: Exception = (
    "/transferTarget/region",
    "TransferRequest carries no region; optional",
);
const TRANSFER_CLIENT_CONTEXT: Exception = (
    "/clientContext",
    "top-level clientContext is not a parameter of the v1 transfer action",
);
const JOIN_PREFETCH: Exception = (
    "/mediaConfig/preFetchMedia",
    "JoinMeeting carries no prompts to prefetch",
);
const APP_HOSTED_MEDIA: Exception = (
    "/mediaConfig",
    "app-hosted media; callhost uses service-hosted media only",
);

fn ctx(callback_uri: &str) -> RequestContext {
    RequestContext {
        callback_uri: callback_uri.into(),
        bot_app_id: "2891555a-92ff-42e6-80fa-6e1300c6b5c6".into(),
        bot_display_name: None,
        default_tenant_id: None,
    }
}

fn who(kind: IdentityKind, id: &str, name: Option<&str>) -> Identity {
    Identity {
        kind,
        id: id.into(),
        display_name: name.map(Into::into),
        tenant_id: None,
    }
}

fn prompt(uri: &str, resource_id: Option<&str>) -> MediaPrompt {
    MediaPrompt {
        uri: uri.into(),
        resource_id: resource_id.map(Into::into),
    }
}

fn context(value: &str) -> Option<String> {
    Some(value.into())
}

/// Builds `action`, checks method and path, and compares the body with the docs example.
fn check(
    fixture: &str,
    action: CallAction,
    ctx: &RequestContext,
    path: &str,
    exceptions: &[Exception],
) {
    let request = build(&action, ctx).unwrap_or_else(|e| panic!("{fixture}: {e}"));
    assert_eq!(
        (request.method, request.path.as_str()),
        (Method::Post, path),
        "{fixture}"
    );
    assert_matches_docs(fixture, request.body.as_ref().expect("a body"), exceptions);
}

const CALL: &str = "57dab8b1-894c-409a-b240-bd8beae78896";
const CALL_PATH: &str = "/communications/calls/57dab8b1-894c-409a-b240-bd8beae78896";

#[test]
fn answer_reject_redirect() {
    let answer = |prefetch| CallAction::Answer {
        call_id: CALL.into(),
        options: AnswerOptions {
            modalities: vec![Modality::Audio],
            prefetch,
        },
    };
    let api_calls = ctx("https://bot.contoso.com/api/calls");
    let prefetch = vec![
        prompt(
            "https://cdn.contoso.com/beep.wav",
            Some("1D6DE2D4-CD51-4309-8DAA-70768651088E"),
        ),
        prompt(
            "https://cdn.contoso.com/cool.wav",
            Some("1D6DE2D4-CD51-4309-8DAA-70768651088F"),
        ),
    ];
    let answer_path = format!("{CALL_PATH}/answer");
    check(
        "request-answer-service-hosted.json",
        answer(prefetch),
        &api_calls,
        &answer_path,
        &[],
    );
    check(
        "request-answer-app-hosted.json",
        answer(vec![]),
        &api_calls,
        &answer_path,
        &[APP_HOSTED_MEDIA],
    );
    check(
        "request-answer.json",
        answer(vec![]),
        &ctx("callbackUri-value"),
        &answer_path,
        &[
            APP_HOSTED_MEDIA,
            ("/callOptions", "AnswerOptions carries no call options"),
            (
                "/participantCapacity",
                "policy-based recording only; not in AnswerOptions",
            ),
        ],
    );

    for (fixture, reason) in [
        ("request-reject-busy.json", RejectReason::Busy),
        ("request-reject-none.json", RejectReason::None),
    ] {
        check(
            fixture,
            CallAction::Reject {
                call_id: CALL.into(),
                reason,
            },
            &api_calls,
            &format!("{CALL_PATH}/reject"),
            &[],
        );
    }

    let bot_callback =
        ctx("https://bot.contoso.com/api/calls/24701998-1a73-4d42-8085-bf46ed0ae039");
    let redirect = |call_id: &str, targets| CallAction::Redirect {
        call_id: call_id.into(),
        targets,
        timeout_seconds: None,
    };
    let path = "/communications/calls/491f0b00-ffff-4bc9-a43e-b226498ec22a/redirect";
    let bot = who(
        IdentityKind::Application,
        "22bfd41f-550e-477d-8789-f6f7bd2a5e8b",
        Some("test bot 2"),
    );
    check(
        "request-redirect.json",
        redirect("491f0b00-ffff-4bc9-a43e-b226498ec22a", vec![bot]),
        &bot_callback,
        path,
        &[],
    );
    let phone = Identity::phone("+12345678901");
    check(
        "request-redirect-pstn.json",
        redirect("491f0b00-ffff-4bc9-a43e-b226498ec22a", vec![phone]),
        &bot_callback,
        path,
        &[],
    );
    let users = vec![
        who(
            IdentityKind::User,
            "98da8a1a-1b87-452c-a713-65d3f10b1253",
            Some("test user"),
        ),
        who(
            IdentityKind::User,
            "bf5aae9a-d11d-47a8-93b1-782504c9c3f3",
            Some("test user 2"),
        ),
    ];
    check(
        "request-redirect-simulring.json",
        redirect("481f0b00-ffff-4ca1-8c67-a5f1e31e8e82", users),
        &bot_callback,
        "/communications/calls/481f0b00-ffff-4ca1-8c67-a5f1e31e8e82/redirect",
        &[("/routingPolicies", "not in the v1 schema")],
    );
}

#[test]
fn transfers() {
    let heidi = who(
        IdentityKind::User,
        "550fae72-d251-43ec-868c-373732c2704f",
        Some("Heidi Steen"),
    );
    let transfer = |call_id: &str, target: &Identity, replaces: Option<&str>, transferee| {
        CallAction::Transfer {
            call_id: call_id.into(),
            request: TransferRequest {
                target: target.clone(),
                replaces_call_id: replaces.map(Into::into),
                transferee,
            },
        }
    };
    let c = ctx("https://bot.contoso.com/callback");
    let path = format!("{CALL_PATH}/transfer");
    let consult_call = "341a0500-d4bf-4224-8b19-1581168d328b";
    let consult_path = format!("/communications/calls/{consult_call}/transfer");
    let replaces = Some("e5d39592-99bd-4db8-bca8-30fb894ec51d");
    let phone = Identity::phone("+12345678901");
    let pstn_exceptions = [
        NOT_IN_DOMAIN_LANGUAGE,
        NOT_IN_DOMAIN_REGION,
        TRANSFER_CLIENT_CONTEXT,
    ];

    check(
        "request-transfer-blind.json",
        transfer(CALL, &heidi, None, None),
        &c,
        &path,
        &[],
    );
    check(
        "request-transfer-consultative.json",
        transfer(consult_call, &heidi, replaces, None),
        &c,
        &consult_path,
        &[],
    );
    check(
        "request-transfer-pstn.json",
        transfer(CALL, &phone, None, None),
        &c,
        &path,
        &pstn_exceptions,
    );
    check(
        "request-transfer-consultative-pstn.json",
        transfer(consult_call, &phone, replaces, None),
        &c,
        &consult_path,
        &pstn_exceptions,
    );
    let transferee = Transferee {
        identity: Identity {
            tenant_id: Some("72f988bf-86f1-41af-91ab-2d7cd011db47".into()),
            ..Identity::user("751f6800-3180-414d-bd94-333364659951")
        },
        participant_id: "909c6581-5130-43e9-88f3-fcb3582cde37".into(),
    };
    check(
        "request-transfer-group-call-transferee.json",
        transfer(CALL, &heidi, None, Some(transferee)),
        &c,
        &path,
        &[],
    );
}

#[test]
fn media_actions() {
    let c = ctx("https://bot.contoso.com/callback");
    let beep = prompt(
        "https://cdn.contoso.com/beep.wav",
        Some("1D6DE2D4-CD51-4309-8DAA-70768651088E"),
    );
    let id = "d45324c1-fcb5-430a-902c-f20af696537c";
    let play = CallAction::PlayPrompt {
        call_id: CALL.into(),
        prompts: vec![beep.clone()],
        client_context: context(id),
    };
    check(
        "request-playprompt.json",
        play,
        &c,
        &format!("{CALL_PATH}/playPrompt"),
        &[],
    );
    let options = RecordOptions {
        prompts: vec![beep],
        barge_in_allowed: true,
        initial_silence_timeout_seconds: Some(5),
        max_silence_timeout_seconds: Some(2),
        max_record_duration_seconds: Some(10),
        play_beep: true,
        stop_tones: vec!["#".into(), "1".into(), "*".into()],
        client_context: context(id),
    };
    let record = CallAction::RecordResponse {
        call_id: CALL.into(),
        options,
    };
    check(
        "request-recordresponse.json",
        record,
        &c,
        &format!("{CALL_PATH}/recordResponse"),
        &[],
    );
    let tone = CallAction::SubscribeToTone {
        call_id: CALL.into(),
        client_context: context("fd1c7836-4d84-4e24-b6aa-23188688cc54"),
    };
    check(
        "request-subscribetotone.json",
        tone,
        &c,
        &format!("{CALL_PATH}/subscribeToTone"),
        &[],
    );
    let cancel = CallAction::CancelMediaProcessing {
        call_id: CALL.into(),
        client_context: context("clientContext-value"),
    };
    check(
        "request-cancelmediaprocessing.json",
        cancel,
        &c,
        &format!("{CALL_PATH}/cancelMediaProcessing"),
        &[],
    );
    let tones = "1234567890*#"
        .chars()
        .map(|key| Tone::from_char(key).unwrap())
        .collect();
    let dtmf = CallAction::SendDtmfTones {
        call_id: "481f3600-983e-4276-9b59-c1b30ec8d125".into(),
        tones,
        delay_between_tones_ms: Some(1000),
        client_context: context("e0be71f1-a14f-4cec-b65a-e7aba5db7c53"),
    };
    // The docs' example URL uses the namespace-qualified segment; the reference lists this one.
    check(
        "request-senddtmftones.json",
        dtmf,
        &c,
        "/communications/calls/481f3600-983e-4276-9b59-c1b30ec8d125/sendDtmfTones",
        &[],
    );
}
