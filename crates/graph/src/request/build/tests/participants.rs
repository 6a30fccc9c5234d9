//! Participant actions (mute, hold music, invites) against the docs examples.

use super::*;

#[test]
fn mute_and_hold_music() {
    let c = ctx("https://bot.contoso.com/callback");
    let mute = CallAction::Mute {
        call_id: CALL.into(),
        client_context: context("clientContext-value"),
    };
    check(
        "request-mute.json",
        mute,
        &c,
        &format!("{CALL_PATH}/mute"),
        &[],
    );
    let unmute = CallAction::Unmute {
        call_id: CALL.into(),
        client_context: context("clientContext-value"),
    };
    check(
        "request-unmute.json",
        unmute,
        &c,
        &format!("{CALL_PATH}/unmute"),
        &[],
    );
    let participant = "2765eb15-01f8-47c6-b12b-c32111a4a86f";
    let mute_other = CallAction::MuteParticipant {
        call_id: CALL.into(),
        participant_id: participant.into(),
        client_context: context("d45324c1-fcb5-430a-902c-f20af696537c"),
    };
    check(
        "request-mute-participant.json",
        mute_other,
        &c,
        &format!("{CALL_PATH}/participants/{participant}/mute"),
        &[],
    );

    let hold_call = "e141b67c-90fd-455d-858b-b48a40b9cc8d";
    let held = "fa1e9582-7145-4ca3-bcd8-577f561fcb6e";
    let hold_path = format!("/communications/calls/{hold_call}/participants/{held}");
    let start = CallAction::StartHoldMusic {
        call_id: hold_call.into(),
        participant_id: held.into(),
        custom_prompt: Some(prompt("https://bot.contoso.com/onHold.wav", None)),
        client_context: context("d45324c1-fcb5-430a-902c-f20af696537c"),
    };
    check(
        "request-startholdmusic.json",
        start,
        &c,
        &format!("{hold_path}/startHoldMusic"),
        &[],
    );
    let stop = CallAction::StopHoldMusic {
        call_id: hold_call.into(),
        participant_id: held.into(),
        client_context: context("d45324c1-fcb5-430a-902c-f20af696537c"),
    };
    check(
        "request-stopholdmusic.json",
        stop,
        &c,
        &format!("{hold_path}/stopHoldMusic"),
        &[],
    );
}

#[test]
fn invites() {
    let c = ctx("https://bot.contoso.com/callback");
    let invite = |call_id: &str, participants: Vec<Invitee>| CallAction::InviteParticipants {
        call_id: call_id.into(),
        participants,
        client_context: context("f2fa86af-3c51-4bc2-8fc0-475452d9764f"),
    };
    let invitee = |identity: Identity, replaces: Option<&str>, participant: Option<&str>| Invitee {
        identity,
        replaces_call_id: replaces.map(Into::into),
        participant_id: participant.map(Into::into),
    };
    let replaces = Some("a7ebfb2d-871e-419c-87af-27290b22e8db");
    let user = |id: &str| who(IdentityKind::User, id, Some("string"));
    let path = |call_id: &str| format!("/communications/calls/{call_id}/participants/invite");
    let group = "ab6233a5-20b7-4c5e-bea2-ce56c9776429";

    let one = invite(
        group,
        vec![invitee(
            user("278405a3-f568-4b3e-b684-009193463064"),
            replaces,
            None,
        )],
    );
    check(
        "request-invite-participant.json",
        one,
        &c,
        &path(group),
        &[],
    );
    let pstn = invite(
        group,
        vec![invitee(Identity::phone("+12345678901"), None, None)],
    );
    check(
        "request-invite-participant-pstn.json",
        pstn,
        &c,
        &path(group),
        &[],
    );
    let escalate = invite(
        group,
        vec![invitee(
            user("7e1b4346-85a6-4bdd-abe3-d11c5d420efe"),
            replaces,
            None,
        )],
    );
    check(
        "request-invite-participant-replacing-p2p.json",
        escalate,
        &c,
        &path(group),
        &[],
    );
    let moved = Identity::user("682b6c37-0729-4fab-ace6-d730d5d9137e");
    let moving = invite(
        group,
        vec![invitee(
            moved,
            replaces,
            Some("7d501bf1-5ee4-4605-ba92-0ae4513c611c"),
        )],
    );
    check(
        "request-invite-participant-move-meeting.json",
        moving,
        &c,
        &path(group),
        &[(
            "/participants/0/identity/user/identityProvider",
            "Identity carries no identity provider; optional",
        )],
    );
    let multiple_call = "7531d31f-d10d-44de-802f-c569dbca451c";
    let several = invite(
        multiple_call,
        vec![
            invitee(user("7e1b4346-85a6-4bdd-abe3-d11c5d420efe"), replaces, None),
            invitee(user("1e126418-44a0-4a94-a6f8-0efe1ad71acb"), replaces, None),
        ],
    );
    check(
        "request-invite-participants-multiple.json",
        several,
        &c,
        &path(multiple_call),
        &[],
    );
}
