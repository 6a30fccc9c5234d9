//! Answers every call with audio, plays the greeting, and hangs up once it has played.
//!
//! Config: `greeting`, the https URL of the greeting (WAV: mono, 16-bit, 16 kHz).
//! Call state: `greeting-operation`, the operation id of the greeting being played.

use callhost_sdk::prelude::*;

/// Config key of the greeting's URL; also the client context of its playback.
const GREETING: &str = "greeting";
/// Call-state key of the greeting's operation id.
const GREETING_OPERATION: &str = "greeting-operation";

struct AnswerAndGreet;

impl Workflow for AnswerAndGreet {
    /// Answers with audio and has Graph fetch the greeting right away.
    fn on_incoming_call(call: &Call, _incoming: &IncomingCall) -> Result<()> {
        let greeting = config::prompt(GREETING)?;
        log::info("answering", &[("greeting", greeting.uri())]);
        call.answer(&[greeting])
    }

    fn on_state_changed(call: &Call, change: &StateChanged) -> Result<()> {
        if change.state != CallState::Established {
            return nothing_to_do();
        }
        let operation_id = call.play(&config::prompt(GREETING)?)?;
        state::call().set(GREETING_OPERATION, &operation_id)?;
        log::info("playing the greeting", &[("operation-id", &operation_id)]);
        Ok(())
    }

    /// Hangs up whether the greeting played to its end or failed: either way it is over.
    fn on_operation_completed(call: &Call, operation: &OperationCompleted) -> Result<()> {
        let greeting = state::call().get::<String>(GREETING_OPERATION);
        let is_greeting = greeting.as_deref() == Some(operation.operation_id.as_str())
            || operation.client_context.as_deref() == Some(GREETING);
        if !is_greeting {
            return nothing_to_do();
        }
        let played = if operation.status == OperationStatus::Completed {
            "completed"
        } else {
            "did not complete"
        };
        log::info("greeting over; hanging up", &[("greeting", played)]);
        call.hang_up()
    }
}

export_workflow!(AnswerAndGreet);

fn nothing_to_do() -> Result<()> {
    log::debug("nothing to do for this event", &[]);
    Ok(())
}
