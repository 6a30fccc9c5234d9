//! The `actions` config value: call-control requests to make, one JSON object per request.
//! See the crate documentation for the format.

use serde_json::{Value, json};

use crate::bindings::callhost::workflow::call_control::{
    self, AnswerOptions, CollectOptions, JoinRequest, PlaceCallRequest, RecordOptions,
    TransferRequest,
};
use crate::bindings::callhost::workflow::timers::{self, TimerError};
use crate::bindings::callhost::workflow::types::CallError;
use crate::parse::{
    Fields, Parsed, boolean, identity, invitee, media_prompt, meeting_ref, string, transferee, u32,
    wit_enum,
};
use crate::render;

/// Stands for the id of the event's call in a `call` field.
const EVENT_CALL: &str = "$call";

const FUNCTIONS: &str = "answer, reject, redirect, transfer, hang-up, join-meeting, place-call, \
     play-prompt, record-response, subscribe-to-tone, send-dtmf-tones, cancel-media-processing, \
     mute, unmute, mute-participant, invite-participants, start-hold-music, stop-hold-music, \
     collect-tones, cancel-collect-tones, set-timer, cancel-timer";

/// One call-control request, ready to be made.
pub struct Action {
    function: String,
    request: Request,
}

/// A request bound to its arguments; its error rendered as the recorder's JSON.
type Request = Box<dyn FnOnce() -> Result<Value, Value>>;

impl Action {
    /// Makes the request and returns its outcome: `{"fn": …, "ok": …}` or `{"fn": …, "err": …}`.
    pub fn perform(self) -> Value {
        match (self.request)() {
            Ok(value) => json!({ "fn": self.function, "ok": value }),
            Err(error) => json!({ "fn": self.function, "err": error }),
        }
    }
}

/// Parses the whole list before any request is made, so a mistake in it makes no request at all.
pub fn parse(actions: &str, event_call_id: &str) -> Parsed<Vec<Action>> {
    let actions: Value = serde_json::from_str(actions)
        .map_err(|error| format!("config value `actions` is not JSON: {error}"))?;
    let actions = actions
        .as_array()
        .ok_or("config value `actions`: expected an array of objects")?;
    actions
        .iter()
        .enumerate()
        .map(|(index, action)| {
            parse_action(action, event_call_id)
                .map_err(|error| format!("actions[{index}]: {error}"))
        })
        .collect()
}

fn parse_action(action: &Value, event_call_id: &str) -> Parsed<Action> {
    let args = Fields::new(action, "")?;
    let function = args.required("fn", string)?;
    let request =
        request(&function, &args, event_call_id).map_err(|error| format!("{function}: {error}"))?;
    args.finish()
        .map_err(|error| format!("{function}: {error}"))?;
    Ok(Action { function, request })
}

/// The arguments of `function`, bound into the request that makes it.
fn request(function: &str, args: &Fields, event_call_id: &str) -> Parsed<Request> {
    let call_id = || {
        let call_id = args.required("call", string)?;
        Ok::<_, String>(if call_id == EVENT_CALL {
            event_call_id.to_string()
        } else {
            call_id
        })
    };
    let client_context = || args.optional("client-context", string);
    Ok(match function {
        "answer" => {
            let call_id = call_id()?;
            let options = AnswerOptions {
                modalities: args.list("modalities", wit_enum)?,
                prefetch: args.list("prefetch", media_prompt)?,
            };
            Box::new(move || unit(call_control::answer(&call_id, &options)))
        }
        "reject" => {
            let call_id = call_id()?;
            let reason = args.required("reason", wit_enum)?;
            Box::new(move || unit(call_control::reject(&call_id, reason)))
        }
        "redirect" => {
            let call_id = call_id()?;
            let targets = args.list("targets", identity)?;
            let timeout = args.optional("timeout-seconds", u32)?;
            Box::new(move || unit(call_control::redirect(&call_id, &targets, timeout)))
        }
        "transfer" => {
            let call_id = call_id()?;
            let request = TransferRequest {
                target: args.required("target", identity)?,
                replaces_call_id: args.optional("replaces-call-id", string)?,
                transferee: args.optional("transferee", transferee)?,
            };
            Box::new(move || unit(call_control::transfer(&call_id, &request)))
        }
        "hang-up" => {
            let call_id = call_id()?;
            Box::new(move || unit(call_control::hang_up(&call_id)))
        }
        "join-meeting" => {
            let request = JoinRequest {
                meeting: args.required("meeting", meeting_ref)?,
                tenant_id: args.optional("tenant-id", string)?,
                display_name: args.optional("display-name", string)?,
            };
            Box::new(move || text(call_control::join_meeting(&request)))
        }
        "place-call" => {
            let request = PlaceCallRequest {
                targets: args.list("targets", identity)?,
                tenant_id: args.optional("tenant-id", string)?,
                subject: args.optional("subject", string)?,
                source_application_instance: args
                    .optional("source-application-instance", identity)?,
            };
            Box::new(move || text(call_control::place_call(&request)))
        }
        "play-prompt" => {
            let call_id = call_id()?;
            let prompts = args.list("prompts", media_prompt)?;
            let context = client_context()?;
            Box::new(move || {
                text(call_control::play_prompt(
                    &call_id,
                    &prompts,
                    context.as_deref(),
                ))
            })
        }
        "record-response" => {
            let call_id = call_id()?;
            let options = RecordOptions {
                prompts: args.list("prompts", media_prompt)?,
                barge_in_allowed: args.required("barge-in-allowed", boolean)?,
                initial_silence_timeout_seconds: args
                    .optional("initial-silence-timeout-seconds", u32)?,
                max_silence_timeout_seconds: args.optional("max-silence-timeout-seconds", u32)?,
                max_record_duration_seconds: args.optional("max-record-duration-seconds", u32)?,
                play_beep: args.required("play-beep", boolean)?,
                stop_tones: args.list("stop-tones", string)?,
                client_context: client_context()?,
            };
            Box::new(move || text(call_control::record_response(&call_id, &options)))
        }
        "subscribe-to-tone" => {
            let call_id = call_id()?;
            let context = client_context()?;
            Box::new(move || {
                unit(call_control::subscribe_to_tone(
                    &call_id,
                    context.as_deref(),
                ))
            })
        }
        "send-dtmf-tones" => {
            let call_id = call_id()?;
            let tones = args.list("tones", wit_enum)?;
            let delay = args.optional("delay-between-tones-ms", u32)?;
            let context = client_context()?;
            Box::new(move || {
                text(call_control::send_dtmf_tones(
                    &call_id,
                    &tones,
                    delay,
                    context.as_deref(),
                ))
            })
        }
        "cancel-media-processing" | "mute" | "unmute" => {
            let call_id = call_id()?;
            let context = client_context()?;
            let request = match function {
                "mute" => call_control::mute,
                "unmute" => call_control::unmute,
                _ => call_control::cancel_media_processing,
            };
            Box::new(move || unit(request(&call_id, context.as_deref())))
        }
        "mute-participant" | "stop-hold-music" => {
            let call_id = call_id()?;
            let participant_id = args.required("participant-id", string)?;
            let context = client_context()?;
            let request = match function {
                "mute-participant" => call_control::mute_participant,
                _ => call_control::stop_hold_music,
            };
            Box::new(move || text(request(&call_id, &participant_id, context.as_deref())))
        }
        "invite-participants" => {
            let call_id = call_id()?;
            let participants = args.list("participants", invitee)?;
            let context = client_context()?;
            Box::new(move || {
                text(call_control::invite_participants(
                    &call_id,
                    &participants,
                    context.as_deref(),
                ))
            })
        }
        "start-hold-music" => {
            let call_id = call_id()?;
            let participant_id = args.required("participant-id", string)?;
            let prompt = args.optional("custom-prompt", media_prompt)?;
            let context = client_context()?;
            Box::new(move || {
                text(call_control::start_hold_music(
                    &call_id,
                    &participant_id,
                    prompt.as_ref(),
                    context.as_deref(),
                ))
            })
        }
        "collect-tones" => {
            let call_id = call_id()?;
            let options = CollectOptions {
                prompts: args.list("prompts", media_prompt)?,
                max_digits: args.required("max-digits", u32)?,
                first_digit_timeout_ms: args.required("first-digit-timeout-ms", u32)?,
                inter_digit_timeout_ms: args.required("inter-digit-timeout-ms", u32)?,
                terminators: args.list("terminators", wit_enum)?,
                tries: args.required("tries", u32)?,
                client_context: client_context()?,
            };
            Box::new(move || unit(call_control::collect_tones(&call_id, &options)))
        }
        "cancel-collect-tones" => {
            let call_id = call_id()?;
            Box::new(move || {
                call_control::cancel_collect_tones(&call_id)
                    .map(Value::Bool)
                    .map_err(|e| render::call_error(&e))
            })
        }
        "set-timer" => {
            let call_id = call_id()?;
            let name = args.required("name", string)?;
            let delay = args.required("delay-ms", u32)?;
            let payload = args.optional("payload", string)?;
            Box::new(move || {
                timers::set_timer(&call_id, &name, delay, payload.as_deref())
                    .map(|()| Value::Null)
                    .map_err(|e| timer_error(&e))
            })
        }
        "cancel-timer" => {
            let call_id = call_id()?;
            let name = args.required("name", string)?;
            Box::new(move || {
                timers::cancel_timer(&call_id, &name)
                    .map(Value::Bool)
                    .map_err(|e| timer_error(&e))
            })
        }
        other => {
            return Err(format!(
                "unknown function `{other}`; expected one of {FUNCTIONS}"
            ));
        }
    })
}

/// The outcome of a function returning `result<_, call-error>`: `ok` is `null`.
fn unit(result: Result<(), CallError>) -> Result<Value, Value> {
    result
        .map(|()| Value::Null)
        .map_err(|e| render::call_error(&e))
}

/// The outcome of a function returning `result<string, call-error>`: `ok` is the string.
fn text(result: Result<String, CallError>) -> Result<Value, Value> {
    result
        .map(Value::String)
        .map_err(|e| render::call_error(&e))
}

/// A `timer-error` as the recorder's JSON.
fn timer_error(error: &TimerError) -> Value {
    match error {
        TimerError::InvalidArgument(text) => json!({ "invalid-argument": text }),
        TimerError::TooMany(limit) => json!({ "too-many": limit }),
        TimerError::NotFound => json!("not-found"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(actions: &str) -> String {
        parse(actions, "c1").err().expect("an error")
    }

    #[test]
    fn parses_every_function() {
        let actions = r#"[
            {"fn": "answer", "call": "$call", "modalities": ["audio"]},
            {"fn": "reject", "call": "$call", "reason": "busy"},
            {"fn": "redirect", "call": "$call", "targets": [{"kind": "phone", "id": "+1"}]},
            {"fn": "transfer", "call": "$call", "target": {"kind": "user", "id": "u"}},
            {"fn": "hang-up", "call": "c2"},
            {"fn": "join-meeting", "meeting": {"join-url": "https://t/l"}},
            {"fn": "place-call", "targets": [{"kind": "user", "id": "u"}]},
            {"fn": "play-prompt", "call": "$call", "prompts": [{"uri": "https://x/a.wav"}]},
            {"fn": "record-response", "call": "$call", "barge-in-allowed": false, "play-beep": true},
            {"fn": "subscribe-to-tone", "call": "$call"},
            {"fn": "send-dtmf-tones", "call": "$call", "tones": ["one", "pound"]},
            {"fn": "cancel-media-processing", "call": "$call"},
            {"fn": "mute", "call": "$call"},
            {"fn": "unmute", "call": "$call"},
            {"fn": "mute-participant", "call": "$call", "participant-id": "p"},
            {"fn": "invite-participants", "call": "$call", "participants": []},
            {"fn": "start-hold-music", "call": "$call", "participant-id": "p"},
            {"fn": "stop-hold-music", "call": "$call", "participant-id": "p"},
            {"fn": "collect-tones", "call": "$call", "max-digits": 4, "first-digit-timeout-ms": 500,
             "inter-digit-timeout-ms": 500, "terminators": ["pound"], "tries": 2},
            {"fn": "cancel-collect-tones", "call": "$call"},
            {"fn": "set-timer", "call": "$call", "name": "t", "delay-ms": 500, "payload": "p"},
            {"fn": "cancel-timer", "call": "$call", "name": "t"}
        ]"#;
        let parsed = parse(actions, "c1").expect("valid actions");
        let functions: Vec<&str> = parsed
            .iter()
            .map(|action| action.function.as_str())
            .collect();
        let expected: Vec<&str> = FUNCTIONS.split(", ").map(str::trim).collect();
        assert_eq!(functions, expected);
    }

    #[test]
    fn errors_name_the_action_and_the_key() {
        assert_eq!(
            error(r#"[{"fn": "hang-up"}]"#),
            "actions[0]: hang-up: `call` is required"
        );
        assert_eq!(
            error(r#"[{"fn": "mute", "call": "$call"}, {"fn": "mute", "call": "c", "x": 1}]"#),
            "actions[1]: mute: unknown key `x`; expected `fn`, `call`, `client-context`"
        );
        assert_eq!(
            error(r#"[{"fn": "record-response", "call": "$call", "play-beep": true}]"#),
            "actions[0]: record-response: `barge-in-allowed` is required"
        );
        assert!(error(r#"[{"fn": "dance"}]"#).contains("unknown function `dance`"));
        assert!(error("{}").contains("expected an array"));
        assert!(error("[").contains("not JSON"));
    }
}
