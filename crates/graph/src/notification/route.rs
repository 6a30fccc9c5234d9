//! Which resource a notification is about, from its resource URL.

/// The resource a notification is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceTarget {
    /// `/communications/calls/{id}`: the call itself (state, tones, media state).
    Call { call_id: String },
    /// `/communications/calls/{id}/participants[/{participantId}]`: the roster.
    Participants { call_id: String },
    /// `/communications/calls/{id}/operations/{operationId}`: a long-running operation.
    Operation {
        call_id: String,
        operation_id: String,
    },
    /// Another resource of a call, such as `contentsharingsessions`; `path` is relative to the
    /// call.
    Other { call_id: String, path: String },
    /// A URL that names no call.
    Unrouted { resource: String },
}

impl ResourceTarget {
    /// Routes a `resourceUrl` (`/communications/calls/...`, with or without the leading `/`, or
    /// as an absolute Graph URL) or a legacy `resource` (`/app/calls/...`).
    pub fn route(resource: &str) -> Self {
        let unrouted = || ResourceTarget::Unrouted {
            resource: resource.to_owned(),
        };
        let path = match resource.find("://") {
            Some(scheme_end) => {
                let rest = &resource[scheme_end + 3..];
                rest.find('/').map_or("", |host_end| &rest[host_end..])
            }
            None => resource,
        };
        let path = path.split(['?', '#']).next().unwrap_or_default();
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let Some(calls) = segments.iter().enumerate().position(|(i, segment)| {
            let parent = i.checked_sub(1).map(|p| segments[p]);
            parent.is_some_and(|p| {
                p.eq_ignore_ascii_case("communications") || p.eq_ignore_ascii_case("app")
            }) && (segment.eq_ignore_ascii_case("calls") || keyed_call_id(segment).is_some())
        }) else {
            return unrouted();
        };
        // Both `calls/{id}` and the OData key form `calls('{id}')`.
        let (call_id, rest) = match keyed_call_id(segments[calls]) {
            Some(id) => (id, &segments[calls + 1..]),
            None => match segments.get(calls + 1) {
                Some(id) => (*id, &segments[calls + 2..]),
                None => return unrouted(),
            },
        };
        if call_id.is_empty() {
            return unrouted();
        }
        let call_id = call_id.to_owned();
        let is = |segment: &str, name: &str| segment.eq_ignore_ascii_case(name);
        match rest {
            [] => ResourceTarget::Call { call_id },
            [p] | [p, _] if is(p, "participants") => ResourceTarget::Participants { call_id },
            // The docs' multi-invite roster example uses `…/operations/participants`.
            [o, p] if is(o, "operations") && is(p, "participants") => {
                ResourceTarget::Participants { call_id }
            }
            [o, id] if is(o, "operations") => ResourceTarget::Operation {
                call_id,
                operation_id: (*id).to_owned(),
            },
            _ => ResourceTarget::Other {
                call_id,
                path: rest.join("/"),
            },
        }
    }

    /// The call the resource belongs to.
    pub fn call_id(&self) -> Option<&str> {
        match self {
            ResourceTarget::Call { call_id }
            | ResourceTarget::Participants { call_id }
            | ResourceTarget::Operation { call_id, .. }
            | ResourceTarget::Other { call_id, .. } => Some(call_id),
            ResourceTarget::Unrouted { .. } => None,
        }
    }
}

/// The id of an OData key segment such as `calls('abc')`.
fn keyed_call_id(segment: &str) -> Option<&str> {
    let prefix = segment.get(..6)?;
    if !prefix.eq_ignore_ascii_case("calls(") {
        return None;
    }
    let key = segment[6..].strip_suffix(')')?;
    Some(key.trim_matches('\''))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(id: &str) -> ResourceTarget {
        ResourceTarget::Call { call_id: id.into() }
    }

    #[test]
    fn routes_call_participants_operations_and_others() {
        assert_eq!(
            ResourceTarget::route("/communications/calls/57DAB8B1"),
            call("57DAB8B1")
        );
        assert_eq!(
            ResourceTarget::route("/communications/calls/57DAB8B1/"),
            call("57DAB8B1")
        );
        assert_eq!(
            ResourceTarget::route("/communications/calls/c1/participants"),
            ResourceTarget::Participants {
                call_id: "c1".into()
            }
        );
        assert_eq!(
            ResourceTarget::route("communications/calls/c1/participants/p1"),
            ResourceTarget::Participants {
                call_id: "c1".into()
            }
        );
        assert_eq!(
            ResourceTarget::route("/communications/calls/c1/operations/participants"),
            ResourceTarget::Participants {
                call_id: "c1".into()
            }
        );
        assert_eq!(
            ResourceTarget::route("communications/calls/c1/operations/op1"),
            ResourceTarget::Operation {
                call_id: "c1".into(),
                operation_id: "op1".into()
            }
        );
        assert_eq!(
            ResourceTarget::route("/communications/calls/c1/contentsharingsessions/s1"),
            ResourceTarget::Other {
                call_id: "c1".into(),
                path: "contentsharingsessions/s1".into()
            }
        );
    }

    #[test]
    fn routes_legacy_absolute_and_keyed_urls() {
        assert_eq!(ResourceTarget::route("/app/calls/c1"), call("c1"));
        assert_eq!(
            ResourceTarget::route("https://graph.microsoft.com/v1.0/communications/calls/c1?x=1"),
            call("c1")
        );
        assert_eq!(
            ResourceTarget::route("/communications/calls('c1')"),
            call("c1")
        );
        assert_eq!(
            ResourceTarget::route("/communications/calls('c1')/participants"),
            ResourceTarget::Participants {
                call_id: "c1".into()
            }
        );
    }

    #[test]
    fn urls_without_a_call_are_unrouted() {
        for url in [
            "",
            "/",
            "/communications/calls",
            "/users/u1",
            "calls/c1",
            "/communications/calls('')",
            "https://x",
        ] {
            assert_eq!(
                ResourceTarget::route(url),
                ResourceTarget::Unrouted {
                    resource: url.into()
                },
                "{url}"
            );
        }
    }
}
