//! The JSON pieces of request bodies, annotated with `@odata.type` the way Graph's docs send
//! them, and the argument checks Graph documents.

use std::ops::RangeInclusive;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Map, Value, json};

use callhost_call::{CallError, Identity, IdentityKind, MediaPrompt};

/// Graph echoes `clientContext` in operation results and caps it at 256 characters.
pub(super) const MAX_CLIENT_CONTEXT_CHARS: usize = 256;

/// Characters left as they are in a path segment; everything else is percent-encoded, so an
/// id can never change which resource a request addresses.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

pub(super) fn invalid(message: impl Into<String>) -> CallError {
    CallError::InvalidArgument(message.into())
}

/// A non-blank id, returned unchanged: ids are opaque and case-preserving.
pub(super) fn required_id<'a>(field: &str, id: &'a str) -> Result<&'a str, CallError> {
    if id.trim().is_empty() {
        return Err(invalid(format!(
            "`{field}` is empty; it must name an existing id"
        )));
    }
    Ok(id)
}

/// An id as one path segment.
pub(super) fn segment(field: &str, id: &str) -> Result<String, CallError> {
    let id = required_id(field, id)?;
    if id == "." || id == ".." {
        return Err(invalid(format!("`{field}` is {id:?}, which is not an id")));
    }
    Ok(utf8_percent_encode(id, SEGMENT).to_string())
}

/// Checks that a list's length is within what Graph accepts.
pub(super) fn count(
    field: &str,
    len: usize,
    allowed: RangeInclusive<usize>,
) -> Result<(), CallError> {
    if allowed.contains(&len) {
        return Ok(());
    }
    let (min, max) = (*allowed.start(), *allowed.end());
    let accepts = match (min, max) {
        (0, max) => format!("at most {max}"),
        (min, usize::MAX) => format!("at least {min}"),
        (min, max) => format!("{min} to {max}"),
    };
    Err(invalid(format!(
        "`{field}` holds {len} entries; Graph accepts {accepts}"
    )))
}

/// Checks an optional number of seconds (or other unit) against Graph's range.
pub(super) fn within(
    field: &str,
    value: Option<u32>,
    allowed: RangeInclusive<u32>,
) -> Result<(), CallError> {
    match value {
        Some(v) if !allowed.contains(&v) => Err(invalid(format!(
            "`{field}` is {v}; Graph accepts {} to {}",
            allowed.start(),
            allowed.end()
        ))),
        _ => Ok(()),
    }
}

/// A JSON object under construction.
#[derive(Debug, Default)]
pub(super) struct Body(Map<String, Value>);

impl Body {
    pub(super) fn new() -> Self {
        Self::default()
    }

    pub(super) fn set(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.0.insert(key.to_owned(), value.into());
        self
    }

    pub(super) fn set_some(self, key: &str, value: Option<impl Into<Value>>) -> Self {
        match value {
            Some(value) => self.set(key, value),
            None => self,
        }
    }

    /// Adds `clientContext` when there is one, checking Graph's length limit.
    pub(super) fn client_context(self, context: &Option<String>) -> Result<Self, CallError> {
        if let Some(context) = context {
            let chars = context.chars().count();
            if chars > MAX_CLIENT_CONTEXT_CHARS {
                return Err(invalid(format!(
                    "`client_context` has {chars} characters; \
                     Graph accepts at most {MAX_CLIENT_CONTEXT_CHARS}"
                )));
            }
        }
        Ok(self.set_some("clientContext", context.clone()))
    }

    pub(super) fn build(self) -> Value {
        Value::Object(self.0)
    }
}

/// The identity-set key of a kind; `None` for kinds that cannot be addressed.
fn identity_key(kind: IdentityKind) -> Option<&'static str> {
    kind.identity_set_key()
}

/// An `identitySet` naming one party.
pub(super) fn identity_set(field: &str, identity: &Identity) -> Result<Value, CallError> {
    let key = identity_key(identity.kind).ok_or_else(|| {
        invalid(format!(
            "`{field}` has identity kind `unknown`, which cannot be addressed; use user, \
             application, application-instance, phone, guest or encrypted"
        ))
    })?;
    identity_set_as(field, key, identity)
}

/// An `identitySet` naming `identity` under `key`, whatever its kind says.
pub(super) fn identity_set_as(
    field: &str,
    key: &str,
    identity: &Identity,
) -> Result<Value, CallError> {
    let id = required_id(&format!("{field}.id"), &identity.id)?;
    let inner = Body::new()
        .set("@odata.type", "#microsoft.graph.identity")
        .set("id", id)
        .set_some("displayName", identity.display_name.clone())
        .set_some("tenantId", identity.tenant_id.clone());
    Ok(Body::new()
        .set("@odata.type", "#microsoft.graph.identitySet")
        .set(key, inner.build())
        .build())
}

/// An `invitationParticipantInfo`: a target of a call, redirect, transfer or invite.
pub(super) fn invitation(
    field: &str,
    identity: &Identity,
    replaces_call_id: &Option<String>,
    participant_id: &Option<String>,
) -> Result<Body, CallError> {
    if let Some(id) = replaces_call_id {
        required_id(&format!("{field}.replaces_call_id"), id)?;
    }
    if let Some(id) = participant_id {
        required_id(&format!("{field}.participant_id"), id)?;
    }
    Ok(Body::new()
        .set("@odata.type", "#microsoft.graph.invitationParticipantInfo")
        .set(
            "identity",
            identity_set(&format!("{field}.identity"), identity)?,
        )
        .set_some("replacesCallId", replaces_call_id.clone())
        .set_some("participantId", participant_id.clone()))
}

/// A `participantInfo` naming the bot itself as an application.
pub(super) fn participant_info(identity: Value) -> Value {
    json!({ "@odata.type": "#microsoft.graph.participantInfo", "identity": identity })
}

fn media_info(field: &str, prompt: &MediaPrompt) -> Result<Body, CallError> {
    if prompt.uri.trim().is_empty() {
        return Err(invalid(format!(
            "`{field}.uri` is empty; it must be the https URL of a WAV file"
        )));
    }
    Ok(Body::new()
        .set("uri", prompt.uri.clone())
        .set_some("resourceId", prompt.resource_id.clone()))
}

/// A `mediaPrompt` playing one audio file.
pub(super) fn media_prompt(field: &str, prompt: &MediaPrompt) -> Result<Value, CallError> {
    let info = media_info(field, prompt)?.set("@odata.type", "#microsoft.graph.mediaInfo");
    Ok(json!({ "@odata.type": "#microsoft.graph.mediaPrompt", "mediaInfo": info.build() }))
}

/// A list of prompts, `field[i]` in messages.
pub(super) fn media_prompts(field: &str, prompts: &[MediaPrompt]) -> Result<Vec<Value>, CallError> {
    prompts
        .iter()
        .enumerate()
        .map(|(i, p)| media_prompt(&format!("{field}[{i}]"), p))
        .collect()
}

/// Service-hosted media (the only kind callhost supports), prefetching `prefetch`.
pub(super) fn service_hosted_media(prefetch: &[MediaPrompt]) -> Result<Value, CallError> {
    let media: Vec<Value> = prefetch
        .iter()
        .enumerate()
        .map(|(i, p)| media_info(&format!("prefetch[{i}]"), p).map(Body::build))
        .collect::<Result<_, _>>()?;
    Ok(Body::new()
        .set("@odata.type", "#microsoft.graph.serviceHostedMediaConfig")
        .set_some("preFetchMedia", (!media.is_empty()).then_some(media))
        .build())
}
