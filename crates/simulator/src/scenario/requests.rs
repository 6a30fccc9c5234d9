//! Kinds of Graph requests, as scenarios name them.

use std::sync::LazyLock;

use callhost::call::ActionKind;

/// Requests Graph receives that are no call-control action: the host re-reading a call, and
/// removing a participant.
const OTHER_REQUESTS: [&str; 2] = ["getCall", "removeParticipant"];

/// Every request kind a scenario may name: one per [`ActionKind`], and [`OTHER_REQUESTS`].
pub static REQUEST_KINDS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    let mut kinds = Vec::new();
    for kind in ActionKind::ALL
        .iter()
        .map(|k| k.graph_request())
        .chain(OTHER_REQUESTS)
    {
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    kinds
});

/// The kind of a request to `/…/communications/calls…` (`answer`, `hangUp`, `createCall`,
/// …); `None` for other paths and for actions without a kind.
pub fn request_kind(method: &str, path: &str) -> Option<&'static str> {
    let rest = path.split("/communications/calls").nth(1)?;
    let segments: Vec<&str> = rest
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| s.trim_start_matches("microsoft.graph."))
        .collect();
    let kind = match (method, segments.as_slice()) {
        ("POST", []) => "createCall",
        ("DELETE", [_]) => "hangUp",
        ("GET", [_]) => "getCall",
        ("POST", [_, "participants", "invite"]) => "invite",
        ("POST", [_, "participants", _, "mute"]) => "muteParticipant",
        ("DELETE", [_, "participants", _]) => "removeParticipant",
        ("POST", [_, "participants", _, action]) | ("POST", [_, action]) => {
            return REQUEST_KINDS.iter().copied().find(|k| k == action);
        }
        _ => return None,
    };
    Some(kind)
}

#[cfg(test)]
mod tests {
    use super::request_kind;

    #[test]
    fn kinds_follow_graph_action_names() {
        let call = "/v1.0/communications/calls/c1";
        assert_eq!(
            request_kind("POST", &format!("{call}/answer")),
            Some("answer")
        );
        assert_eq!(
            request_kind("POST", &format!("{call}/microsoft.graph.sendDtmfTones")),
            Some("sendDtmfTones")
        );
        assert_eq!(request_kind("DELETE", call), Some("hangUp"));
        assert_eq!(
            request_kind("POST", "/v1.0/communications/calls"),
            Some("createCall")
        );
        assert_eq!(
            request_kind("POST", &format!("{call}/participants/p1/startHoldMusic")),
            Some("startHoldMusic")
        );
        assert_eq!(
            request_kind("POST", &format!("{call}/participants/invite")),
            Some("invite")
        );
        assert_eq!(request_kind("POST", "/v1.0/users"), None);
    }
}
