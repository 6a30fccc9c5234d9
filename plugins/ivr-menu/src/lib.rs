//! A key-press menu. The caller hears the menu and presses:
//! 1 to be transferred to sales, 2 to hear the information prompt (then the call ends),
//! 0 to be transferred to the operator, * to hear the menu again. Any other key replays the
//! menu; after three of them the caller hears goodbye and the call ends.
//!
//! Config: `menu`, `info` and `goodbye` are prompt URLs (WAV: mono, 16-bit, 16 kHz); `sales`
//! and `operator` are transfer targets: `user:<object-id>`, `phone:+<E.164 number>` or
//! `application:<app-id>`.
//! Call state: see `progress`.

#[allow(unsafe_code)] // the generated glue between the component ABI and Rust
mod bindings {
    wit_bindgen::generate!({ world: "workflow", path: "../../wit" });

    use super::IvrMenu;
    export!(IvrMenu);
}

mod progress;
#[path = "../../shared/support.rs"]
mod support;
mod target;

use bindings::callhost::workflow::call_control::{self, AnswerOptions, TransferRequest};
use bindings::callhost::workflow::types::{
    CallContext, CallState, Event, EventKind, Modality, OperationCompleted, StateChanged, Tone,
};
use bindings::exports::callhost::workflow::handler::Guest;
use progress::Stage;
use support::{call_failed, configured_prompt, debug, info, warn};

// Config keys.
const MENU: &str = "menu";
const INFO: &str = "info";
const GOODBYE: &str = "goodbye";
const SALES: &str = "sales";
const OPERATOR: &str = "operator";

/// Invalid keys a caller may press before the menu says goodbye.
const MAX_INVALID_KEYS: u32 = 3;

struct IvrMenu;

impl Guest for IvrMenu {
    fn on_event(call: CallContext, event: Event) -> Result<(), String> {
        let call_id = call.call_id.as_str();
        match event.kind {
            EventKind::IncomingCall(_) => answer(call_id),
            EventKind::StateChanged(change) if change.state == CallState::Established => {
                on_established(call_id, &change)
            }
            EventKind::ToneReceived(key) => on_key(call_id, key.tone),
            EventKind::OperationCompleted(operation) => on_operation_completed(call_id, &operation),
            _ => Ok(()),
        }
    }
}

/// Answers with audio and has Graph fetch the menu right away.
fn answer(call_id: &str) -> Result<(), String> {
    let options = AnswerOptions {
        modalities: vec![Modality::Audio],
        prefetch: vec![configured_prompt(MENU)?],
    };
    info("answering", &[]);
    call_control::answer(call_id, &options).map_err(|error| call_failed("answer", &error))
}

/// The call is connected, or back after a failed transfer: offer the menu.
fn on_established(call_id: &str, change: &StateChanged) -> Result<(), String> {
    match progress::stage() {
        None => {
            call_control::subscribe_to_tone(call_id, None)
                .map_err(|error| call_failed("subscribe-to-tone", &error))?;
            info("connected; offering the menu", &[]);
        }
        Some(Stage::Transferring) => {
            let result = change
                .result
                .as_ref()
                .map(|result| format!("{}/{}", result.code, result.subcode));
            let result = result.as_deref().unwrap_or("none");
            warn("transfer failed; back to the menu", &[("result", result)]);
        }
        Some(Stage::Menu | Stage::HangingUp) => return Ok(()),
    }
    progress::set_stage(Stage::Menu)?;
    play(call_id, MENU).map(drop)
}

fn on_key(call_id: &str, tone: Tone) -> Result<(), String> {
    let key = key_label(tone);
    if progress::stage() != Some(Stage::Menu) {
        debug("key ignored: the menu is not on offer now", &[("key", key)]);
        return Ok(());
    }
    info("key pressed", &[("key", key)]);
    match tone {
        Tone::One => transfer(call_id, SALES),
        Tone::Two => play_then_hang_up(call_id, INFO),
        Tone::Zero => transfer(call_id, OPERATOR),
        Tone::Star => play(call_id, MENU).map(drop),
        _ => on_invalid_key(call_id),
    }
}

fn on_invalid_key(call_id: &str) -> Result<(), String> {
    let count = progress::count_invalid_key()?;
    if count >= MAX_INVALID_KEYS {
        info("too many invalid keys; saying goodbye", &[]);
        play_then_hang_up(call_id, GOODBYE)
    } else {
        play(call_id, MENU).map(drop)
    }
}

/// Blind transfer to the target configured under `key`.
fn transfer(call_id: &str, key: &str) -> Result<(), String> {
    let request = TransferRequest {
        target: target::configured(key)?,
        replaces_call_id: None,
        transferee: None,
    };
    info(
        "transferring",
        &[("to", key), ("target", &request.target.id)],
    );
    call_control::transfer(call_id, &request)
        .map_err(|error| call_failed(&format!("transfer to {key}"), &error))?;
    progress::set_stage(Stage::Transferring)
}

/// Plays the prompt configured under `key`; the call ends when it has played.
fn play_then_hang_up(call_id: &str, key: &str) -> Result<(), String> {
    let operation_id = play(call_id, key)?;
    progress::hang_up_after(&operation_id)
}

fn on_operation_completed(call_id: &str, operation: &OperationCompleted) -> Result<(), String> {
    if !progress::is_last_prompt(&operation.operation_id) {
        return Ok(());
    }
    info("last prompt over; hanging up", &[]);
    call_control::hang_up(call_id).map_err(|error| call_failed("hang-up", &error))
}

/// Plays the prompt configured under `key` and returns its operation id. The key is the
/// playback's client context, so Graph's notifications say which prompt it was.
fn play(call_id: &str, key: &str) -> Result<String, String> {
    let prompt = configured_prompt(key)?;
    let operation_id = call_control::play_prompt(call_id, &[prompt], Some(key))
        .map_err(|error| call_failed(&format!("play-prompt {key}"), &error))?;
    info(
        "playing",
        &[("prompt", key), ("operation-id", &operation_id)],
    );
    Ok(operation_id)
}

fn key_label(tone: Tone) -> &'static str {
    match tone {
        Tone::Zero => "0",
        Tone::One => "1",
        Tone::Two => "2",
        Tone::Three => "3",
        Tone::Four => "4",
        Tone::Five => "5",
        Tone::Six => "6",
        Tone::Seven => "7",
        Tone::Eight => "8",
        Tone::Nine => "9",
        Tone::Star => "*",
        Tone::Pound => "#",
        Tone::A => "A",
        Tone::B => "B",
        Tone::C => "C",
        Tone::D => "D",
        Tone::Flash => "flash",
    }
}
