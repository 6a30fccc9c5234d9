//! A Teams join link as a user pastes it: parsed, then turned into the body of the
//! `POST /communications/calls` that joins the meeting. A link that parses always makes a
//! request naming what the link named; one that does not never does.

#![no_main]

use callhost_call::{CallAction, JoinMeeting, MeetingRef};
use callhost_graph::join_url::JoinUrl;
use callhost_graph::request::{self, RequestContext};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = JoinUrl::parse(text);
    if let Err(e) = &parsed {
        let _ = e.to_string();
    }
    let ctx = RequestContext {
        callback_uri: "https://bot.example.com/callback".into(),
        bot_app_id: "app-id".into(),
        bot_display_name: Some("Bot".into()),
        default_tenant_id: None,
    };
    for tenant in [None, Some("tenant-1")] {
        let action = CallAction::JoinMeeting(JoinMeeting {
            meeting: MeetingRef::JoinUrl(text.to_owned()),
            tenant_id: tenant.map(str::to_owned),
            display_name: None,
        });
        let built = request::build(&action, &ctx);
        let url = match &parsed {
            Err(_) => {
                assert!(built.is_err(), "{text:?} does not parse but made {built:?}");
                continue;
            }
            Ok(url) => url,
        };
        let body = match (built, url, tenant) {
            (Ok(request), _, _) => request.body.expect("a join has a body"),
            (Err(_), JoinUrl::Meet(_), None) => continue,
            (Err(e), _, _) => panic!("{text:?} parses as {url:?} but gives no request: {e}"),
        };
        serde_json::to_string(&body).expect("the body serializes");
        let field = |pointer: &str| body.pointer(pointer).and_then(|v| v.as_str());
        match url {
            JoinUrl::Meetup(m) => {
                assert_eq!(field("/tenantId"), Some(m.tenant_id.as_str()));
                assert_eq!(field("/chatInfo/threadId"), Some(m.thread_id.as_str()));
                assert_eq!(field("/chatInfo/messageId"), Some(m.message_id.as_str()));
                assert_eq!(
                    field("/meetingInfo/organizer/user/id"),
                    Some(m.organizer_id.as_str())
                );
            }
            JoinUrl::Meet(m) => {
                assert_eq!(field("/tenantId"), tenant);
                assert_eq!(
                    field("/meetingInfo/joinMeetingId"),
                    Some(m.join_meeting_id.as_str())
                );
                assert_eq!(field("/meetingInfo/passcode"), m.passcode.as_deref());
            }
        }
    }
});
