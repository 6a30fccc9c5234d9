//! Teams meeting join links: the classic `/l/meetup-join/…?context={…}` form, which names the
//! meeting's chat thread, tenant and organizer, and the short `/meet/<id>?p=<passcode>` form,
//! which names only the join meeting id.

use percent_encoding::percent_decode_str;
use serde_json::{Map, Value};

#[cfg(test)]
mod tests;

/// The hosts Teams builds join links on: work accounts and consumer Teams.
pub const TEAMS_HOSTS: [&str; 2] = ["teams.microsoft.com", "teams.live.com"];

const EXPECTED: &str = "expected https://teams.microsoft.com/l/meetup-join/<thread>/<message>\
     ?context={\"Tid\":…,\"Oid\":…} or https://teams.microsoft.com/meet/<id>?p=<passcode> \
     (or the same on teams.live.com)";

/// A parsed join link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinUrl {
    Meetup(MeetupJoinUrl),
    Meet(MeetJoinUrl),
}

/// The classic link: everything needed for `chatInfo` and `organizerMeetingInfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetupJoinUrl {
    /// For example `19:meeting_…@thread.v2`.
    pub thread_id: String,
    /// `0` for meeting chats; a real message id for channel meetings.
    pub message_id: String,
    /// `Tid`: the meeting's tenant.
    pub tenant_id: String,
    /// `Oid`: the organizer's object id.
    pub organizer_id: String,
    /// `MessageId`: the reply chain, for channel meetings.
    pub reply_chain_message_id: Option<String>,
}

/// The short link: a join meeting id and its passcode. It names no tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetJoinUrl {
    pub join_meeting_id: String,
    pub passcode: Option<String>,
}

/// Why a string is not a usable join link. Every message says what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JoinUrlError {
    #[error("join URL is empty; {EXPECTED}")]
    Empty,
    #[error("join URL is not valid UTF-8 once percent-decoded; {EXPECTED}")]
    NotUtf8,
    #[error("join URL host {host:?} is not a Teams host; {EXPECTED}")]
    NotTeamsHost { host: String },
    #[error("join URL path is neither /l/meetup-join/… nor /meet/…; {EXPECTED}")]
    UnknownPath,
    #[error("join URL: {problem}; {EXPECTED}")]
    Incomplete { problem: String },
}

impl JoinUrl {
    /// Parses a join link, percent-decoding it exactly once (a link pasted undecoded works too).
    /// A `+` stays a plus: Teams encodes spaces as `%20`, and ids never contain either.
    pub fn parse(input: &str) -> Result<Self, JoinUrlError> {
        let input = input.trim();
        if input.is_empty() {
            return Err(JoinUrlError::Empty);
        }
        let decoded = percent_decode_str(input)
            .decode_utf8()
            .map_err(|_| JoinUrlError::NotUtf8)?;
        let rest = strip_prefix_ignore_case(&decoded, "https://")
            .or_else(|| strip_prefix_ignore_case(&decoded, "http://"))
            .ok_or_else(|| incomplete("it does not start with https://"))?;
        let (host, path_and_query) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if !TEAMS_HOSTS.iter().any(|h| h.eq_ignore_ascii_case(host)) {
            return Err(JoinUrlError::NotTeamsHost {
                host: host.chars().take(100).collect(),
            });
        }
        let (path, query) = match path_and_query.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (path_and_query, None),
        };
        let lower = path.to_ascii_lowercase();
        if let Some(at) = lower.find("/meetup-join/") {
            meetup(&path[at + "/meetup-join/".len()..], query).map(JoinUrl::Meetup)
        } else if lower.starts_with("/meet/") {
            meet(&path["/meet/".len()..], query).map(JoinUrl::Meet)
        } else {
            Err(JoinUrlError::UnknownPath)
        }
    }
}

fn incomplete(problem: &str) -> JoinUrlError {
    JoinUrlError::Incomplete {
        problem: problem.to_owned(),
    }
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// `<thread>/<message>` and the `context` JSON of a classic link.
fn meetup(segments: &str, query: Option<&str>) -> Result<MeetupJoinUrl, JoinUrlError> {
    let parts: Vec<&str> = segments.split('/').filter(|s| !s.is_empty()).collect();
    let [thread_id, message_id] = parts[..] else {
        return Err(incomplete(
            "a classic link needs exactly a thread id and a message id after /l/meetup-join/",
        ));
    };
    let context = query.and_then(context_json).ok_or_else(|| {
        incomplete(
            "a classic link needs a context={…} query parameter with the tenant and organizer",
        )
    })?;
    let context: Map<String, Value> = serde_json::from_str(context)
        .map_err(|_| incomplete("the context parameter is not a JSON object"))?;
    let field = |name: &str| -> Option<String> {
        let value = context.get(name).or_else(|| {
            context
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
                .map(|(_, value)| value)
        })?;
        value
            .as_str()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    Ok(MeetupJoinUrl {
        thread_id: thread_id.to_owned(),
        message_id: message_id.to_owned(),
        tenant_id: field("Tid")
            .ok_or_else(|| incomplete("the context has no \"Tid\" (tenant id)"))?,
        organizer_id: field("Oid")
            .ok_or_else(|| incomplete("the context has no \"Oid\" (organizer object id)"))?,
        reply_chain_message_id: field("MessageId"),
    })
}

/// The balanced JSON object after `context=`; later parameters are ignored.
fn context_json(query: &str) -> Option<&str> {
    let lower = query.to_ascii_lowercase();
    let start = lower
        .match_indices("context=")
        .map(|(at, _)| at)
        .find(|&at| at == 0 || query.as_bytes()[at - 1] == b'&')?;
    let value = query[start + "context=".len()..].trim_start();
    value
        .starts_with('{')
        .then(|| balanced_object(value))
        .flatten()
}

/// The prefix of `text` (which starts with `{`) up to the `}` that closes it, skipping braces
/// inside JSON strings.
fn balanced_object(text: &str) -> Option<&str> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (at, c) in text.char_indices() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '{' => depth += 1,
            '}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(&text[..=at]);
                }
            }
            _ => {}
        }
    }
    None
}

/// `<id>` and the `p` parameter of a short link.
fn meet(segments: &str, query: Option<&str>) -> Result<MeetJoinUrl, JoinUrlError> {
    let segments = segments.split('#').next().unwrap_or_default();
    let parts: Vec<&str> = segments.split('/').filter(|s| !s.is_empty()).collect();
    let [join_meeting_id] = parts[..] else {
        return Err(incomplete(
            "a short link needs exactly one meeting id after /meet/",
        ));
    };
    let query = query
        .map(|q| q.split('#').next().unwrap_or_default())
        .unwrap_or_default();
    let passcode = query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| key.eq_ignore_ascii_case("p"))
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
        .map(str::to_owned);
    let join_meeting_id = join_meeting_id.trim();
    if join_meeting_id.is_empty() {
        return Err(incomplete("a short link needs a meeting id after /meet/"));
    }
    Ok(MeetJoinUrl {
        join_meeting_id: join_meeting_id.to_owned(),
        passcode,
    })
}
