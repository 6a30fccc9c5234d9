//! Asks the caller for a PIN with the host's tone collection: the prompt, four digits or `#`,
//! `first_digit_ms` for the first key (5000 by default) and `inter_digit_ms` between keys (3000),
//! the prompt again after a silence (three tries).
//! The right PIN hears `welcome`, a wrong one `wrong` and another collection (three attempts
//! in all); silence on every try, or a third wrong PIN, hears `goodbye`. The call ends when the
//! last prompt has played.
//!
//! Config: `prompt`, `welcome`, `wrong` and `goodbye` are prompt URLs (WAV: mono, 16-bit,
//! 16 kHz); `pin` is the PIN. Call state: `attempts` (PINs entered) and `hang-up-after` (the
//! operation id of the last prompt).

use std::time::Duration;

use callhost_sdk::menu::{Attempts, WrongKeys};
use callhost_sdk::prelude::*;

// Config keys.
const PROMPT: &str = "prompt";
const WELCOME: &str = "welcome";
const WRONG: &str = "wrong";
const GOODBYE: &str = "goodbye";
const PIN: &str = "pin";
const FIRST_DIGIT_MS: &str = "first_digit_ms";
const INTER_DIGIT_MS: &str = "inter_digit_ms";

/// Call-state key of the last prompt's operation id.
const HANG_UP_AFTER: &str = "hang-up-after";
/// Three wrong PINs, and the caller hears goodbye.
const ATTEMPTS: WrongKeys = WrongKeys::new("attempts", 3);

struct PinEntry;

impl Workflow for PinEntry {
    fn on_incoming_call(call: &Call, _incoming: &IncomingCall) -> Result<()> {
        call.answer(&[config::prompt(PROMPT)?])
    }

    fn on_state_changed(call: &Call, change: &StateChanged) -> Result<()> {
        if change.state != CallState::Established {
            return Ok(());
        }
        log::info("connected; asking for the PIN", &[]);
        ask(call)
    }

    fn on_tones_collected(call: &Call, collected: &TonesCollected) -> Result<()> {
        log::info(
            "PIN collection over",
            &[
                ("reason", collected.reason.as_str()),
                ("tries", &collected.tries.to_string()),
            ],
        );
        match collected.reason {
            CollectEnd::Complete | CollectEnd::Terminator => {}
            CollectEnd::Failed => return Err(Error::new("the PIN prompt could not be played")),
            // Silent on every try.
            _ => return play_then_hang_up(call, GOODBYE),
        }
        if collected.digits == config::required(PIN)? {
            log::info("PIN accepted", &[]);
            return play_then_hang_up(call, WELCOME);
        }
        match ATTEMPTS.count()? {
            Attempts::Left => {
                log::info("wrong PIN; asking again", &[]);
                call.play(&config::prompt(WRONG)?)?;
                ask(call)
            }
            Attempts::Exhausted => {
                log::info("three wrong PINs; saying goodbye", &[]);
                play_then_hang_up(call, GOODBYE)
            }
        }
    }

    fn on_operation_completed(call: &Call, operation: &OperationCompleted) -> Result<()> {
        let last = state::call().get::<String>(HANG_UP_AFTER);
        if last.as_deref() == Some(operation.operation_id.as_str()) {
            return call.hang_up();
        }
        Ok(())
    }
}

export_workflow!(PinEntry);

/// Collects the PIN.
fn ask(call: &Call) -> Result<()> {
    let collect = Collect::digits(4)
        .prompt(&config::prompt(PROMPT)?)
        .first_digit_timeout(config::millis(FIRST_DIGIT_MS, Duration::from_secs(5))?)
        .inter_digit_timeout(config::millis(INTER_DIGIT_MS, Duration::from_secs(3))?)
        .terminator(Tone::Pound)
        .tries(3)
        .context("pin");
    call.collect_tones(&collect)
}

/// Plays the prompt configured under `key`; the call ends when it has played.
fn play_then_hang_up(call: &Call, key: &str) -> Result<()> {
    let operation_id = call.play(&config::prompt(key)?)?;
    state::call().set(HANG_UP_AFTER, &operation_id)
}
