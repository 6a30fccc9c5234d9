//! Placing calls and joining meetings against the docs examples.

use super::*;

#[test]
fn place_calls() {
    let c = ctx("https://bot.contoso.com/callback");
    let place = |targets, tenant: Option<&str>, subject: Option<&str>, source| {
        CallAction::PlaceCall(PlaceCall {
            targets,
            tenant_id: tenant.map(Into::into),
            subject: subject.map(Into::into),
            source_application_instance: source,
        })
    };
    let john = who(
        IdentityKind::User,
        "112f7296-5fa4-42ca-bae8-6a692b15d4b8",
        Some("John"),
    );
    check(
        "request-create-call-p2p-service-hosted.json",
        place(vec![john], None, None, None),
        &c,
        CALLS_PATH,
        &[("/callOptions", "PlaceCall carries no call options")],
    );

    let instance = who(
        IdentityKind::ApplicationInstance,
        "3d913abb-aec0-4964-8fa6-3c6850c4f278",
        Some("Calling Bot"),
    );
    let pstn = place(
        vec![Identity::phone("+12345678901")],
        Some("aa67bd4c-8475-432d-bd41-39f255720e0a"),
        None,
        Some(instance),
    );
    check(
        "request-create-call-pstn-service-hosted.json",
        pstn,
        &c,
        CALLS_PATH,
        &[],
    );

    let named_bot = RequestContext {
        bot_app_id: "dd3885da-f9ab-486b-bfae-85de3d445555".into(),
        bot_display_name: Some("TestBot".into()),
        ..c.clone()
    };
    let users = vec![
        who(
            IdentityKind::User,
            "98da8a1a-1b87-452c-a713-65d3f10b5555",
            Some("user1"),
        ),
        who(
            IdentityKind::User,
            "bf5aae9a-d11d-47a8-93b1-782504c95555",
            Some("user2"),
        ),
    ];
    let group = place(
        users,
        None,
        Some("Create a group call with service hosted media"),
        None,
    );
    check(
        "request-create-group-call-service-hosted.json",
        group,
        &named_bot,
        CALLS_PATH,
        &[
            ("/direction", "read-only; Graph sets it"),
            (
                "/mediaConfig/removeFromDefaultAudioGroup",
                "not in the v1 schema",
            ),
        ],
    );
}

#[test]
fn join_meetings() {
    let c = ctx("https://bot.contoso.com/callback");
    let join = |meeting, tenant: Option<&str>| {
        CallAction::JoinMeeting(JoinMeeting {
            meeting,
            tenant_id: tenant.map(Into::into),
            display_name: None,
        })
    };
    let classic = |tenant: &str| {
        let context =
            format!("{{\"Tid\":\"{tenant}\",\"Oid\":\"5810cede-f3cc-42eb-b2c1-e9bd5d53ec96\"}}");
        let encode = |s: &str| {
            percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
        };
        let thread = encode("19:meeting_Win6Ydo4wsMijFjZS00ZGVjLTk5MGUtOTRjNWY2NmNkYTFm@thread.v2");
        MeetingRef::JoinUrl(format!(
            "https://teams.microsoft.com/l/meetup-join/{thread}/0?context={}",
            encode(&context)
        ))
    };
    let organizer_name: Exception = (
        "/meetingInfo/organizer/user/displayName",
        "a join URL does not name the organizer",
    );
    let tenant = "86dc81db-c112-4228-9222-63f3esaa1edb";
    check(
        "request-join-meeting-organizermeetinginfo-service-hosted.json",
        join(classic(tenant), None),
        &c,
        CALLS_PATH,
        &[JOIN_PREFETCH, organizer_name],
    );
    let app_hosted_tenant = "aa67bd4c-8475-432d-bd41-39f255720e0a";
    check(
        "request-join-meeting-organizermeetinginfo-app-hosted.json",
        join(classic(app_hosted_tenant), Some("ignored")),
        &c,
        CALLS_PATH,
        &[
            APP_HOSTED_MEDIA,
            organizer_name,
            ("/direction", "read-only; Graph sets it"),
        ],
    );

    let by_id = |passcode: Option<&str>| MeetingRef::JoinMeetingId {
        join_meeting_id: "1234567".into(),
        passcode: passcode.map(Into::into),
    };
    check(
        "request-join-meeting-joinmeetingid-passcode.json",
        join(by_id(Some("psw123")), Some(tenant)),
        &c,
        CALLS_PATH,
        &[JOIN_PREFETCH],
    );
    let with_default_tenant = RequestContext {
        default_tenant_id: Some(tenant.into()),
        ..c.clone()
    };
    check(
        "request-join-meeting-joinmeetingid-no-passcode.json",
        join(by_id(None), None),
        &with_default_tenant,
        CALLS_PATH,
        &[JOIN_PREFETCH],
    );
    let short = MeetingRef::JoinUrl("https://teams.microsoft.com/meet/1234567?p=psw123".into());
    check(
        "request-join-meeting-joinmeetingid-passcode.json",
        join(short, Some(tenant)),
        &c,
        CALLS_PATH,
        &[JOIN_PREFETCH],
    );
}
