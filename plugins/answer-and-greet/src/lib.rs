//! Answers every call with audio, plays the greeting, and hangs up once it has played.
//!
//! Config: `greeting`, the https URL of the greeting (WAV: mono, 16-bit, 16 kHz).
//! Call state: `greeting-operation`, the operation id of the greeting being played.

#[allow(unsafe_code)] // the generated glue between the component ABI and Rust
mod bindings {
    wit_bindgen::generate!({ world: "workflow", path: "../../wit" });

    use super::AnswerAndGreet;
    export!(AnswerAndGreet);
}

#[path = "../../shared/support.rs"]
mod support;

use bindings::callhost::workflow::call_control::{self, AnswerOptions};
use bindings::callhost::workflow::types::{
    CallContext, CallState, Event, EventKind, Modality, OperationCompleted, OperationStatus,
};
use bindings::exports::callhost::workflow::handler::Guest;
use support::{call_failed, call_state, configured_prompt, debug, info, set_call_state};

/// Config key of the greeting's URL; also the client context of its playback.
const GREETING: &str = "greeting";
/// Call-state key of the greeting's operation id.
const GREETING_OPERATION: &str = "greeting-operation";

struct AnswerAndGreet;

impl Guest for AnswerAndGreet {
    fn on_event(call: CallContext, event: Event) -> Result<(), String> {
        let call_id = call.call_id.as_str();
        match event.kind {
            EventKind::IncomingCall(_) => answer(call_id),
            EventKind::StateChanged(change) if change.state == CallState::Established => {
                play_greeting(call_id)
            }
            EventKind::OperationCompleted(operation) if is_greeting(&operation) => {
                hang_up(call_id, &operation)
            }
            _ => {
                debug("nothing to do for this event", &[]);
                Ok(())
            }
        }
    }
}

/// Answers with audio and has Graph fetch the greeting right away.
fn answer(call_id: &str) -> Result<(), String> {
    let greeting = configured_prompt(GREETING)?;
    info("answering", &[("greeting", &greeting.uri)]);
    let options = AnswerOptions {
        modalities: vec![Modality::Audio],
        prefetch: vec![greeting],
    };
    call_control::answer(call_id, &options).map_err(|error| call_failed("answer", &error))
}

fn play_greeting(call_id: &str) -> Result<(), String> {
    let greeting = configured_prompt(GREETING)?;
    let operation_id = call_control::play_prompt(call_id, &[greeting], Some(GREETING))
        .map_err(|error| call_failed("play-prompt greeting", &error))?;
    set_call_state(GREETING_OPERATION, &operation_id)?;
    info("playing the greeting", &[("operation-id", &operation_id)]);
    Ok(())
}

fn is_greeting(operation: &OperationCompleted) -> bool {
    call_state(GREETING_OPERATION).as_deref() == Some(operation.operation_id.as_str())
        || operation.client_context.as_deref() == Some(GREETING)
}

/// Hangs up whether the greeting played to its end or failed: either way it is over.
fn hang_up(call_id: &str, greeting: &OperationCompleted) -> Result<(), String> {
    let played = if greeting.status == OperationStatus::Completed {
        "completed"
    } else {
        "did not complete"
    };
    info("greeting over; hanging up", &[("greeting", played)]);
    call_control::hang_up(call_id).map_err(|error| call_failed("hang-up", &error))
}
