//! Bodies of `POST /communications/calls`: joining a meeting and placing a call.

use serde_json::{Value, json};

use super::body::{
    Body, count, identity_set_as, invalid, invitation, participant_info, required_id,
    service_hosted_media,
};
use super::build::RequestContext;
use crate::join_url::{JoinUrl, MeetJoinUrl, MeetupJoinUrl};
use callhost_call::{CallError, IdentityKind, JoinMeeting, MeetingRef, PlaceCall};

/// A group call rings at most this many VoIP users.
pub const MAX_CALL_TARGETS: usize = 5;

/// What every new call sends: the bot's callback, audio, service-hosted media.
fn new_call(ctx: &RequestContext) -> Result<Body, CallError> {
    Ok(Body::new()
        .set("@odata.type", "#microsoft.graph.call")
        .set("callbackUri", ctx.callback_uri.clone())
        .set("requestedModalities", json!(["audio"]))
        .set("mediaConfig", service_hosted_media(&[])?))
}

/// The bot as the caller, when there is a name to show; without one Graph names the bot from
/// its app registration.
fn bot_source(display_name: Option<&str>, ctx: &RequestContext) -> Option<Value> {
    let name = display_name
        .or(ctx.bot_display_name.as_deref())
        .filter(|n| !n.trim().is_empty())?;
    if ctx.bot_app_id.trim().is_empty() {
        return None;
    }
    let identity = json!({
        "@odata.type": "#microsoft.graph.identitySet",
        "application": {
            "@odata.type": "#microsoft.graph.identity",
            "id": ctx.bot_app_id,
            "displayName": name,
        },
    });
    Some(participant_info(identity))
}

/// The tenant of a meeting whose reference does not carry one.
fn meeting_tenant(
    join: &JoinMeeting,
    ctx: &RequestContext,
    why: &str,
) -> Result<String, CallError> {
    join.tenant_id
        .as_deref()
        .or(ctx.default_tenant_id.as_deref())
        .filter(|t| !t.trim().is_empty())
        .map(str::to_owned)
        .ok_or_else(|| {
            invalid(format!(
                "`tenant_id` is missing: {why}; \
                 set `tenant_id` in the request or configure a default tenant"
            ))
        })
}

fn organizer_meeting(url: &MeetupJoinUrl) -> (Value, Value) {
    let chat = Body::new()
        .set("@odata.type", "#microsoft.graph.chatInfo")
        .set("threadId", url.thread_id.clone())
        .set("messageId", url.message_id.clone())
        .set_some("replyChainMessageId", url.reply_chain_message_id.clone());
    let meeting = json!({
        "@odata.type": "#microsoft.graph.organizerMeetingInfo",
        "organizer": {
            "@odata.type": "#microsoft.graph.identitySet",
            "user": {
                "@odata.type": "#microsoft.graph.identity",
                "id": url.organizer_id,
                "tenantId": url.tenant_id,
            },
        },
        // Lets the bot stay when the organizer is not (or no longer) in the meeting; every
        // docs example sends it.
        "allowConversationWithoutHost": true,
    });
    (chat.build(), meeting)
}

fn join_meeting_id_meeting(join_meeting_id: &str, passcode: Option<&str>) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.joinMeetingIdMeetingInfo",
        "joinMeetingId": join_meeting_id,
        "passcode": passcode,
    })
}

/// Joins a meeting. A classic link carries its tenant (and wins over the request's); the short
/// link and the meeting id need the request's tenant or the default one.
pub(super) fn join_meeting(join: &JoinMeeting, ctx: &RequestContext) -> Result<Value, CallError> {
    let body = new_call(ctx)?.set_some("source", bot_source(join.display_name.as_deref(), ctx));
    let body = match &join.meeting {
        MeetingRef::JoinUrl(url) => {
            match JoinUrl::parse(url).map_err(|e| invalid(format!("`meeting`: {e}")))? {
                JoinUrl::Meetup(url) => {
                    let (chat, meeting) = organizer_meeting(&url);
                    body.set("chatInfo", chat)
                        .set("meetingInfo", meeting)
                        .set("tenantId", url.tenant_id)
                }
                JoinUrl::Meet(MeetJoinUrl {
                    join_meeting_id,
                    passcode,
                }) => body
                    .set(
                        "meetingInfo",
                        join_meeting_id_meeting(&join_meeting_id, passcode.as_deref()),
                    )
                    .set(
                        "tenantId",
                        meeting_tenant(
                            join,
                            ctx,
                            "a /meet/ link does not name the meeting's tenant",
                        )?,
                    ),
            }
        }
        MeetingRef::JoinMeetingId {
            join_meeting_id,
            passcode,
        } => {
            let id = required_id("join_meeting_id", join_meeting_id)?;
            let passcode = passcode.as_deref().filter(|p| !p.is_empty());
            body.set("meetingInfo", join_meeting_id_meeting(id, passcode))
                .set(
                    "tenantId",
                    meeting_tenant(
                        join,
                        ctx,
                        "a join meeting id does not name the meeting's tenant",
                    )?,
                )
        }
    };
    Ok(body.build())
}

/// Places a peer-to-peer or group call. Phone targets need an application instance that owns
/// a number, and the tenant it belongs to.
pub(super) fn place_call(place: &PlaceCall, ctx: &RequestContext) -> Result<Value, CallError> {
    count("targets", place.targets.len(), 1..=MAX_CALL_TARGETS)?;
    let phone = place.targets.iter().any(|t| t.kind == IdentityKind::Phone);
    let non_blank = |t: &Option<String>| t.clone().filter(|t| !t.trim().is_empty());
    // Only phone calls fall back to the default tenant; Graph needs no tenant for the others.
    let tenant = non_blank(&place.tenant_id)
        .or_else(|| phone.then(|| non_blank(&ctx.default_tenant_id)).flatten());
    if phone && tenant.is_none() {
        return Err(invalid(
            "`tenant_id` is missing: calling a phone number needs the tenant of the application \
             instance; set `tenant_id` in the request or configure a default tenant",
        ));
    }
    let source = match &place.source_application_instance {
        Some(instance) => Some(participant_info(identity_set_as(
            "source_application_instance",
            "applicationInstance",
            instance,
        )?)),
        None if phone => {
            return Err(invalid(
                "`source_application_instance` is missing: calling a phone number needs the \
                 application instance that owns the number",
            ));
        }
        None => bot_source(None, ctx),
    };
    let targets = place
        .targets
        .iter()
        .enumerate()
        .map(|(i, t)| invitation(&format!("targets[{i}]"), t, &None, &None).map(|b| b.build()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(new_call(ctx)?
        .set_some("source", source)
        .set("targets", targets)
        .set_some("subject", place.subject.clone().filter(|s| !s.is_empty()))
        .set_some("tenantId", tenant)
        .build())
}
