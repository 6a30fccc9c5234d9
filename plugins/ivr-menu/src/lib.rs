//! A key-press menu. The caller hears the menu and presses:
//! 1 to be transferred to sales, 2 to hear the information prompt (then the call ends),
//! 0 to be transferred to the operator, * to hear the menu again. Any other key replays the
//! menu; after three of them the caller hears goodbye and the call ends. A caller who presses
//! nothing for `no_input_ms` after the menu has played hears it again; after three such
//! silences, goodbye.
//!
//! Config: `menu`, `info` and `goodbye` are prompt URLs (WAV: mono, 16-bit, 16 kHz); `sales`
//! and `operator` are transfer targets: `user:<object-id>`, `phone:+<E.164 number>` or
//! `application:<app-id>`. `no_input_ms` is the silence allowed after the menu (8000 by default).
//! Call state: `stage` (see [`Stage`]), `invalid-keys` (the count of keys the menu does not
//! offer) and `hang-up-after` (the operation id of the last prompt before hanging up).

use callhost_sdk::menu::{Attempts, Menu, WrongKeys};
use callhost_sdk::prelude::*;
use serde::{Deserialize, Serialize};
use std::time::Duration;

// Config keys.
const MENU: &str = "menu";
const INFO: &str = "info";
const GOODBYE: &str = "goodbye";
const SALES: &str = "sales";
const OPERATOR: &str = "operator";

// Call-state keys.
const STAGE: &str = "stage";
const HANG_UP_AFTER: &str = "hang-up-after";

/// Three keys the menu does not offer, and the caller hears goodbye.
const INVALID_KEYS: WrongKeys = WrongKeys::new("invalid-keys", 3);
/// Three silences after the menu, and the caller hears goodbye.
const SILENCES: WrongKeys = WrongKeys::new("silences", 3);
/// The timer of a silence after the menu.
const NO_INPUT: &str = "no-input";
const NO_INPUT_MS: &str = "no_input_ms";
const DEFAULT_NO_INPUT: Duration = Duration::from_secs(8);

#[derive(Clone, Copy)]
enum Choice {
    /// Transfer to the target configured under the key.
    Transfer(&'static str),
    /// Play the prompt configured under the key, then hang up.
    Inform(&'static str),
    /// Play the menu again.
    Repeat,
}

const KEYS: Menu<Choice> = Menu::new(&[
    (Tone::One, Choice::Transfer(SALES)),
    (Tone::Two, Choice::Inform(INFO)),
    (Tone::Zero, Choice::Transfer(OPERATOR)),
    (Tone::Star, Choice::Repeat),
]);

/// Where the call is in the menu; none before the call is established.
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Stage {
    /// The menu is offered: keys are handled.
    Menu,
    /// A transfer was requested: keys are ignored until it ends the call or fails.
    Transferring,
    /// The last prompt plays or the call is being hung up: keys are ignored.
    HangingUp,
}

struct IvrMenu;

impl Workflow for IvrMenu {
    /// Answers with audio and has Graph fetch the menu right away.
    fn on_incoming_call(call: &Call, _incoming: &IncomingCall) -> Result<()> {
        let menu = config::prompt(MENU)?;
        log::info("answering", &[]);
        call.answer(&[menu])
    }

    /// The call is connected, or back after a failed transfer: offer the menu.
    fn on_state_changed(call: &Call, change: &StateChanged) -> Result<()> {
        if change.state != CallState::Established {
            return Ok(());
        }
        match state::call().get::<Stage>(STAGE) {
            None => {
                call.subscribe_to_tones()?;
                log::info("connected; offering the menu", &[]);
            }
            Some(Stage::Transferring) => {
                let result = change
                    .result
                    .as_ref()
                    .map(|result| format!("{}/{}", result.code, result.subcode));
                let result = result.as_deref().unwrap_or("none");
                log::warn("transfer failed; back to the menu", &[("result", result)]);
            }
            Some(Stage::Menu | Stage::HangingUp) => return Ok(()),
        }
        state::call().set(STAGE, &Stage::Menu)?;
        play(call, MENU).map(drop)
    }

    fn on_tone(call: &Call, key: &ToneReceived) -> Result<()> {
        let label = key.tone.as_str();
        if state::call().get(STAGE) != Some(Stage::Menu) {
            log::debug(
                "key ignored: the menu is not on offer now",
                &[("key", label)],
            );
            return Ok(());
        }
        log::info("key pressed", &[("key", label)]);
        call.cancel_timer(NO_INPUT)?;
        match KEYS.choice(key.tone) {
            Some(Choice::Transfer(target)) => transfer(call, target),
            Some(Choice::Inform(prompt)) => play_then_hang_up(call, prompt),
            Some(Choice::Repeat) => play(call, MENU).map(drop),
            None => match INVALID_KEYS.count()? {
                Attempts::Left => play(call, MENU).map(drop),
                Attempts::Exhausted => {
                    log::info("too many invalid keys; saying goodbye", &[]);
                    play_then_hang_up(call, GOODBYE)
                }
            },
        }
    }

    fn on_operation_completed(call: &Call, operation: &OperationCompleted) -> Result<()> {
        let menu_over = operation.client_context.as_deref() == Some(MENU);
        if menu_over && state::call().get(STAGE) == Some(Stage::Menu) {
            return call.set_timer(
                NO_INPUT,
                config::millis(NO_INPUT_MS, DEFAULT_NO_INPUT)?,
                None,
            );
        }
        let last_prompt = state::call().get::<String>(HANG_UP_AFTER);
        if last_prompt.as_deref() != Some(operation.operation_id.as_str()) {
            return Ok(());
        }
        log::info("last prompt over; hanging up", &[]);
        call.hang_up()
    }

    /// Nothing was pressed after the menu.
    fn on_timer(call: &Call, timer: &TimerFired) -> Result<()> {
        if timer.name != NO_INPUT || state::call().get(STAGE) != Some(Stage::Menu) {
            return Ok(());
        }
        match SILENCES.count()? {
            Attempts::Left => {
                log::info("no key pressed; offering the menu again", &[]);
                play(call, MENU).map(drop)
            }
            Attempts::Exhausted => {
                log::info("no key pressed three times; saying goodbye", &[]);
                play_then_hang_up(call, GOODBYE)
            }
        }
    }
}

export_workflow!(IvrMenu);

/// Blind transfer to the target configured under `key`.
fn transfer(call: &Call, key: &str) -> Result<()> {
    let target = config::target(key)?;
    log::info(
        "transferring",
        &[("to", key), ("target", &target.identity().id)],
    );
    call.transfer(&target)?;
    state::call().set(STAGE, &Stage::Transferring)
}

/// Plays the prompt configured under `key`; the call ends when it has played.
fn play_then_hang_up(call: &Call, key: &str) -> Result<()> {
    let operation_id = play(call, key)?;
    state::call().set(HANG_UP_AFTER, &operation_id)?;
    state::call().set(STAGE, &Stage::HangingUp)
}

/// Plays the prompt configured under `key` and returns its operation id.
fn play(call: &Call, key: &str) -> Result<String> {
    let operation_id = call.play(&config::prompt(key)?)?;
    log::info(
        "playing",
        &[("prompt", key), ("operation-id", &operation_id)],
    );
    Ok(operation_id)
}
