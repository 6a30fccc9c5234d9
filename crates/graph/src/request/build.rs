//! One Graph request per [`CallAction`]: paths as in the Graph v1.0 reference, bodies as in
//! its examples, arguments checked against Graph's documented limits first.

use serde_json::{Value, json};

use super::GraphRequest;
use super::body::{
    Body, count, identity_set, invalid, invitation, media_prompt, media_prompts, required_id,
    segment, service_hosted_media, within,
};
use super::create;
use callhost_call::{AnswerOptions, CallAction, CallError, RecordOptions, Tone, TransferRequest};

#[cfg(test)]
mod limit_tests;
#[cfg(test)]
mod tests;

/// Where new calls are created.
pub(super) const CALLS_PATH: &str = "/communications/calls";
/// At most this many prompts per playPrompt.
pub const MAX_PROMPTS: usize = 20;
/// At most this many targets ring at once on a redirect.
pub const MAX_REDIRECT_TARGETS: usize = 25;
/// The ring time a redirect accepts, in seconds.
pub const REDIRECT_TIMEOUT_SECONDS: std::ops::RangeInclusive<u32> = 15..=90;
/// At most this many participants per invite.
pub const MAX_INVITEES: usize = 5;
/// recordResponse's timeouts and maximum duration, in seconds.
pub const RECORD_SECONDS: std::ops::RangeInclusive<u32> = 1..=120;

/// What every request of this bot shares.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RequestContext {
    /// The HTTPS URL Graph sends this call's notifications to.
    pub callback_uri: String,
    /// The bot's Microsoft App ID.
    pub bot_app_id: String,
    /// The name the bot shows in calls it places or joins; Graph's default when `None`.
    pub bot_display_name: Option<String>,
    /// The tenant of meetings and phone calls whose request names none.
    pub default_tenant_id: Option<String>,
}

/// The Graph request that carries out `action`. Invalid arguments fail with
/// [`CallError::InvalidArgument`] naming the action, the field and the limit.
pub fn build(action: &CallAction, ctx: &RequestContext) -> Result<GraphRequest, CallError> {
    request(action, ctx).map_err(|e| match e {
        CallError::InvalidArgument(message) => {
            CallError::InvalidArgument(format!("{}: {message}", action.name()))
        }
        other => other,
    })
}

fn call_path(call_id: &str) -> Result<String, CallError> {
    Ok(format!("{CALLS_PATH}/{}", segment("call_id", call_id)?))
}

fn post(call_id: &str, action: &str, body: Value) -> Result<GraphRequest, CallError> {
    Ok(GraphRequest::post(
        format!("{}/{action}", call_path(call_id)?),
        body,
    ))
}

fn post_to_participant(
    call_id: &str,
    participant_id: &str,
    action: &str,
    body: Value,
) -> Result<GraphRequest, CallError> {
    let participant = segment("participant_id", participant_id)?;
    post(
        call_id,
        &format!("participants/{participant}/{action}"),
        body,
    )
}

fn context_only(client_context: &Option<String>) -> Result<Value, CallError> {
    Ok(Body::new().client_context(client_context)?.build())
}

fn request(action: &CallAction, ctx: &RequestContext) -> Result<GraphRequest, CallError> {
    use CallAction::*;
    match action {
        Answer { call_id, options } => post(call_id, "answer", answer(options, ctx)?),
        Reject { call_id, reason } => {
            post(call_id, "reject", json!({ "reason": reason.as_graph() }))
        }
        Redirect {
            call_id,
            targets,
            timeout_seconds,
        } => {
            count("targets", targets.len(), 1..=MAX_REDIRECT_TARGETS)?;
            within(
                "timeout_seconds",
                *timeout_seconds,
                REDIRECT_TIMEOUT_SECONDS,
            )?;
            let targets = targets
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    invitation(&format!("targets[{i}]"), t, &None, &None).map(Body::build)
                })
                .collect::<Result<Vec<_>, _>>()?;
            let body = Body::new()
                .set("targets", targets)
                .set_some("timeout", *timeout_seconds)
                .set("callbackUri", ctx.callback_uri.clone());
            post(call_id, "redirect", body.build())
        }
        Transfer { call_id, request } => post(call_id, "transfer", transfer(request)?),
        HangUp { call_id } => Ok(GraphRequest::delete(call_path(call_id)?)),
        JoinMeeting(join) => Ok(GraphRequest::post(
            CALLS_PATH,
            create::join_meeting(join, ctx)?,
        )),
        PlaceCall(place) => Ok(GraphRequest::post(
            CALLS_PATH,
            create::place_call(place, ctx)?,
        )),
        PlayPrompt {
            call_id,
            prompts,
            client_context,
        } => {
            count("prompts", prompts.len(), 1..=MAX_PROMPTS)?;
            let body = Body::new().set("prompts", media_prompts("prompts", prompts)?);
            post(
                call_id,
                "playPrompt",
                body.client_context(client_context)?.build(),
            )
        }
        RecordResponse { call_id, options } => post(call_id, "recordResponse", record(options)?),
        SubscribeToTone {
            call_id,
            client_context,
        } => post(call_id, "subscribeToTone", context_only(client_context)?),
        SendDtmfTones {
            call_id,
            tones,
            delay_between_tones_ms,
            client_context,
        } => {
            count("tones", tones.len(), 1..=usize::MAX)?;
            let tones: Vec<&str> = tones.iter().map(|t| t.as_graph()).collect();
            let body = Body::new()
                .set("tones", tones)
                .set_some("delayBetweenTonesMs", *delay_between_tones_ms);
            post(
                call_id,
                "sendDtmfTones",
                body.client_context(client_context)?.build(),
            )
        }
        CancelMediaProcessing {
            call_id,
            client_context,
        } => post(
            call_id,
            "cancelMediaProcessing",
            context_only(client_context)?,
        ),
        Mute {
            call_id,
            client_context,
        } => post(call_id, "mute", context_only(client_context)?),
        Unmute {
            call_id,
            client_context,
        } => post(call_id, "unmute", context_only(client_context)?),
        MuteParticipant {
            call_id,
            participant_id,
            client_context,
        } => post_to_participant(
            call_id,
            participant_id,
            "mute",
            context_only(client_context)?,
        ),
        InviteParticipants {
            call_id,
            participants,
            client_context,
        } => {
            count("participants", participants.len(), 1..=MAX_INVITEES)?;
            let participants = participants
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let field = format!("participants[{i}]");
                    invitation(&field, &p.identity, &p.replaces_call_id, &p.participant_id)
                        .map(Body::build)
                })
                .collect::<Result<Vec<_>, _>>()?;
            let body = Body::new()
                .set("participants", participants)
                .client_context(client_context)?;
            post(call_id, "participants/invite", body.build())
        }
        StartHoldMusic {
            call_id,
            participant_id,
            custom_prompt,
            client_context,
        } => {
            let prompt = custom_prompt
                .as_ref()
                .map(|p| media_prompt("custom_prompt", p))
                .transpose()?;
            let body = Body::new()
                .set_some("customPrompt", prompt)
                .client_context(client_context)?;
            post_to_participant(call_id, participant_id, "startHoldMusic", body.build())
        }
        StopHoldMusic {
            call_id,
            participant_id,
            client_context,
        } => post_to_participant(
            call_id,
            participant_id,
            "stopHoldMusic",
            context_only(client_context)?,
        ),
        KeepAlive { call_id } => Ok(GraphRequest::post_empty(format!(
            "{}/keepAlive",
            call_path(call_id)?
        ))),
    }
}

/// Accepts the call with service-hosted media. No modalities means audio only.
fn answer(options: &AnswerOptions, ctx: &RequestContext) -> Result<Value, CallError> {
    let mut modalities: Vec<&str> = options.modalities.iter().map(|m| m.as_graph()).collect();
    if modalities.is_empty() {
        modalities.push("audio");
    }
    Ok(Body::new()
        .set("callbackUri", ctx.callback_uri.clone())
        .set("acceptedModalities", modalities)
        .set("mediaConfig", service_hosted_media(&options.prefetch)?)
        .build())
}

fn transfer(request: &TransferRequest) -> Result<Value, CallError> {
    // Every docs example sends the target's endpoint type.
    let target = invitation("target", &request.target, &request.replaces_call_id, &None)?
        .set("endpointType", "default");
    let transferee = match &request.transferee {
        Some(t) => Some(
            Body::new()
                .set("@odata.type", "#microsoft.graph.participantInfo")
                .set(
                    "identity",
                    identity_set("transferee.identity", &t.identity)?,
                )
                .set(
                    "participantId",
                    required_id("transferee.participant_id", &t.participant_id)?,
                )
                .build(),
        ),
        None => None,
    };
    Ok(Body::new()
        .set("transferTarget", target.build())
        .set_some("transferee", transferee)
        .build())
}

fn record(options: &RecordOptions) -> Result<Value, CallError> {
    count("prompts", options.prompts.len(), 0..=1)?;
    within(
        "initial_silence_timeout_seconds",
        options.initial_silence_timeout_seconds,
        RECORD_SECONDS,
    )?;
    within(
        "max_silence_timeout_seconds",
        options.max_silence_timeout_seconds,
        RECORD_SECONDS,
    )?;
    within(
        "max_record_duration_seconds",
        options.max_record_duration_seconds,
        RECORD_SECONDS,
    )?;
    for (i, key) in options.stop_tones.iter().enumerate() {
        let mut chars = key.chars();
        let one_key = match (chars.next(), chars.next()) {
            (Some(c), None) => Tone::from_char(c).is_some(),
            _ => false,
        };
        if !one_key {
            return Err(invalid(format!(
                "`stop_tones[{i}]` is {key:?}; expected one key: 0-9, *, #, A-D"
            )));
        }
    }
    let prompts = media_prompts("prompts", &options.prompts)?;
    let body = Body::new()
        .set_some("prompts", (!prompts.is_empty()).then_some(prompts))
        .set("bargeInAllowed", options.barge_in_allowed)
        .set("playBeep", options.play_beep)
        .set_some(
            "initialSilenceTimeoutInSeconds",
            options.initial_silence_timeout_seconds,
        )
        .set_some(
            "maxSilenceTimeoutInSeconds",
            options.max_silence_timeout_seconds,
        )
        .set_some(
            "maxRecordDurationInSeconds",
            options.max_record_duration_seconds,
        )
        .set_some(
            "stopTones",
            (!options.stop_tones.is_empty()).then(|| options.stop_tones.clone()),
        );
    Ok(body.client_context(&options.client_context)?.build())
}
