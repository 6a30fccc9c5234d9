//! Join links from the reference, their variants, and never-panic properties.

use proptest::prelude::*;

use super::*;

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const ORGANIZER: &str = "4b444206-207c-42f8-92a6-e332b41c88a2";
const MEETING_THREAD: &str =
    "19:meeting_NTg0NmQ3NTctZDVkZC00YzRhLThmNmEtOGQxZDZkZDZkZDZk@thread.v2";

/// A meeting-chat link as Teams encodes it.
fn encoded_meeting_link() -> String {
    format!(
        "https://teams.microsoft.com/l/meetup-join/19%3ameeting_NTg0NmQ3NTctZDVkZC00YzRhLThmNmEtOGQxZDZkZDZkZDZk%40thread.v2/0\
         ?context=%7b%22Tid%22%3a%22{TENANT}%22%2c%22Oid%22%3a%22{ORGANIZER}%22%7d"
    )
}

fn meetup(url: &str) -> MeetupJoinUrl {
    match JoinUrl::parse(url) {
        Ok(JoinUrl::Meetup(m)) => m,
        other => panic!("{url}: {other:?}"),
    }
}

fn meet(url: &str) -> MeetJoinUrl {
    match JoinUrl::parse(url) {
        Ok(JoinUrl::Meet(m)) => m,
        other => panic!("{url}: {other:?}"),
    }
}

#[test]
fn classic_meeting_chat_link() {
    let expected = MeetupJoinUrl {
        thread_id: MEETING_THREAD.into(),
        message_id: "0".into(),
        tenant_id: TENANT.into(),
        organizer_id: ORGANIZER.into(),
        reply_chain_message_id: None,
    };
    assert_eq!(meetup(&encoded_meeting_link()), expected);
    // Pasted already decoded, and with extra parameters after the context.
    let decoded = format!(
        "https://teams.microsoft.com/l/meetup-join/{MEETING_THREAD}/0?context={{\"Tid\":\"{TENANT}\",\"Oid\":\"{ORGANIZER}\"}}"
    );
    assert_eq!(meetup(&decoded), expected);
    assert_eq!(
        meetup(&format!(
            "{}&anon=true&deeplinkId=%7bx%7d",
            encoded_meeting_link()
        )),
        expected
    );
    assert_eq!(meetup(&format!("{decoded}&launch={{\"a\":1}}")), expected);
    assert_eq!(
        meetup(&format!(
            "  HTTPS://Teams.Microsoft.com/l/meetup-join/{MEETING_THREAD}/0?anon=true&context={{\"Tid\":\"{TENANT}\",\"Oid\":\"{ORGANIZER}\"}}  "
        )),
        expected
    );
}

#[test]
fn classic_channel_link_with_reply_chain() {
    let url = "https://teams.microsoft.com/l/meetup-join/19%3acd9ce3da56624fe69c9d7cd026f9126d%40thread.skype/1509579179399\
               ?context=%7b%22Tid%22%3a%22tid%22%2c%22Oid%22%3a%22oid%22%2c%22MessageId%22%3a%221536978844957%22%7d";
    let parsed = meetup(url);
    assert_eq!(
        parsed.thread_id,
        "19:cd9ce3da56624fe69c9d7cd026f9126d@thread.skype"
    );
    assert_eq!(parsed.message_id, "1509579179399");
    assert_eq!(
        parsed.reply_chain_message_id.as_deref(),
        Some("1536978844957")
    );
    let web_client = format!(
        "https://teams.microsoft.com/_#/l/meetup-join/{MEETING_THREAD}/0?context={{\"Tid\":\"t\",\"Oid\":\"o\"}}"
    );
    assert_eq!(meetup(&web_client).tenant_id, "t");
    let braces_in_strings =
        "https://teams.live.com/l/meetup-join/t/m?context={\"Tid\":\"a}b\",\"Oid\":\"o\\\"{\"}&x=}";
    assert_eq!(meetup(braces_in_strings).tenant_id, "a}b");
}

#[test]
fn short_links() {
    let parsed = meet("https://teams.microsoft.com/meet/1234567?p=psw123");
    assert_eq!(
        parsed,
        MeetJoinUrl {
            join_meeting_id: "1234567".into(),
            passcode: Some("psw123".into())
        }
    );
    assert_eq!(
        meet("https://teams.live.com/meet/9876543210").passcode,
        None
    );
    assert_eq!(
        meet("https://teams.microsoft.com/meet/42/?x=1&P=abc#frag")
            .passcode
            .as_deref(),
        Some("abc")
    );
    assert_eq!(
        meet("https://teams.microsoft.com/meet/42?p=").passcode,
        None
    );
    assert_eq!(
        meet("https://teams.microsoft.com/meet/42%3Fp%3Dx")
            .passcode
            .as_deref(),
        Some("x")
    );
}

#[test]
fn other_strings_are_errors_that_say_what_was_expected() {
    let cases = [
        ("", JoinUrlError::Empty),
        ("   ", JoinUrlError::Empty),
        (
            "https://zoom.us/j/123",
            JoinUrlError::NotTeamsHost {
                host: "zoom.us".into(),
            },
        ),
        (
            "https://teams.microsoft.com.evil.example/meet/1",
            JoinUrlError::NotTeamsHost {
                host: "teams.microsoft.com.evil.example".into(),
            },
        ),
        (
            "https://teams.microsoft.com/l/chat/0/0",
            JoinUrlError::UnknownPath,
        ),
        ("https://teams.microsoft.com", JoinUrlError::UnknownPath),
    ];
    for (url, expected) in cases {
        let error = JoinUrl::parse(url).unwrap_err();
        assert_eq!(error, expected, "{url}");
        assert!(
            error
                .to_string()
                .contains("expected https://teams.microsoft.com/l/meetup-join/"),
            "{error}"
        );
    }
    for url in [
        "teams.microsoft.com/meet/1",
        "https://teams.microsoft.com/meet/",
        "https://teams.microsoft.com/meet/1/2",
        "https://teams.microsoft.com/l/meetup-join/thread-only?context={\"Tid\":\"t\",\"Oid\":\"o\"}",
        "https://teams.microsoft.com/l/meetup-join/t/m",
        "https://teams.microsoft.com/l/meetup-join/t/m?context=",
        "https://teams.microsoft.com/l/meetup-join/t/m?context={\"Tid\":\"t\"",
        "https://teams.microsoft.com/l/meetup-join/t/m?context={\"Tid\":\"t\"}",
        "https://teams.microsoft.com/l/meetup-join/t/m?context={\"Oid\":\"o\"}",
        "https://teams.microsoft.com/l/meetup-join/t/m?context={\"Tid\":7,\"Oid\":\"o\"}",
        "https://teams.microsoft.com/l/meetup-join/t/m?context={not json}",
        "https://teams.microsoft.com/l/meetup-join/t/m?xcontext={\"Tid\":\"t\",\"Oid\":\"o\"}",
    ] {
        assert!(
            matches!(JoinUrl::parse(url), Err(JoinUrlError::Incomplete { .. })),
            "{url}: {:?}",
            JoinUrl::parse(url)
        );
    }
    assert_eq!(
        JoinUrl::parse("https://teams.microsoft.com/meet/%ff"),
        Err(JoinUrlError::NotUtf8)
    );
}

proptest! {
    #[test]
    fn arbitrary_strings_never_panic(input in any::<String>()) {
        let _ = JoinUrl::parse(&input);
    }

    #[test]
    fn mutated_real_links_never_panic(
        which in 0usize..3,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<char>()), 0..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let links = [
            encoded_meeting_link(),
            format!("https://teams.microsoft.com/l/meetup-join/{MEETING_THREAD}/0?context={{\"Tid\":\"{TENANT}\",\"Oid\":\"{ORGANIZER}\",\"MessageId\":\"1\"}}"),
            "https://teams.microsoft.com/meet/1234567?p=psw123".to_owned(),
        ];
        let mut chars: Vec<char> = links[which].chars().collect();
        for (at, c) in edits {
            let at = at.index(chars.len());
            chars[at] = c;
        }
        chars.truncate(cut.index(chars.len() + 1));
        let _ = JoinUrl::parse(&chars.into_iter().collect::<String>());
    }

    #[test]
    fn generated_classic_links_round_trip(
        thread in "19:[A-Za-z0-9_]{1,40}@thread\\.(v2|skype|tacv2)",
        message in "[0-9]{1,13}",
        tenant in "[0-9a-f-]{1,36}",
        organizer in "[0-9a-f-]{1,36}",
    ) {
        let context = format!("{{\"Tid\":\"{tenant}\",\"Oid\":\"{organizer}\"}}");
        let encode = |s: &str| percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string();
        let url = format!("https://teams.microsoft.com/l/meetup-join/{}/{message}?context={}", encode(&thread), encode(&context));
        let parsed = meetup(&url);
        prop_assert_eq!(parsed.thread_id, thread);
        prop_assert_eq!(parsed.message_id, message);
        prop_assert_eq!(parsed.tenant_id, tenant);
        prop_assert_eq!(parsed.organizer_id, organizer);
    }
}
