//! Hangs up and plays a prompt on the call `no-such-call`, then returns what it got as `err`:
//! `hang-up: <outcome>; play-prompt: <outcome>`, each outcome the call-error case in the WIT's
//! words (`not-found`, `invalid-argument(<text>)`, `upstream(<status> <code>: <message>)`, …)
//! or `ok` / `ok(<operation id>)`.

#[allow(unsafe_code)] // the generated glue between the component ABI and Rust
mod bindings {
    wit_bindgen::generate!({ world: "workflow", path: "../../../wit" });

    use super::UnknownCall;
    export!(UnknownCall);
}

use bindings::callhost::workflow::call_control;
use bindings::callhost::workflow::types::{CallContext, CallError, Event, MediaPrompt};
use bindings::exports::callhost::workflow::handler::Guest;

const NO_SUCH_CALL: &str = "no-such-call";

struct UnknownCall;

impl Guest for UnknownCall {
    fn on_event(_call: CallContext, _event: Event) -> Result<(), String> {
        let hang_up = call_control::hang_up(NO_SUCH_CALL).map(|()| "ok".to_string());
        let prompt = MediaPrompt {
            uri: "https://example.invalid/prompt.wav".to_string(),
            resource_id: None,
        };
        let play_prompt = call_control::play_prompt(NO_SUCH_CALL, &[prompt], None)
            .map(|operation_id| format!("ok({operation_id})"));
        Err(format!(
            "hang-up: {}; play-prompt: {}",
            outcome(hang_up),
            outcome(play_prompt)
        ))
    }
}

fn outcome(result: Result<String, CallError>) -> String {
    match result {
        Ok(ok) => ok,
        Err(CallError::NotFound) => "not-found".to_string(),
        Err(CallError::Forbidden) => "forbidden".to_string(),
        Err(CallError::Throttled) => "throttled".to_string(),
        Err(CallError::Timeout) => "timeout".to_string(),
        Err(CallError::InvalidArgument(text)) => format!("invalid-argument({text})"),
        Err(CallError::NotPermitted(text)) => format!("not-permitted({text})"),
        Err(CallError::Other(text)) => format!("other({text})"),
        Err(CallError::Upstream(upstream)) => format!(
            "upstream({} {}: {})",
            upstream.status, upstream.code, upstream.message
        ),
    }
}
