//! The menu's progress through one call. It lives in call-scoped state because the plugin's
//! instance lives for one event only.

use crate::support::{call_state, set_call_state};

/// Where the call is in the menu.
const STAGE: &str = "stage";
/// How many keys the caller pressed that the menu does not offer.
const INVALID_KEYS: &str = "invalid-keys";
/// The operation id of the last prompt before hanging up.
const HANG_UP_AFTER: &str = "hang-up-after";

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The menu is offered: keys are handled.
    Menu,
    /// A transfer was requested: keys are ignored until it ends the call or fails.
    Transferring,
    /// The last prompt plays or the call is being hung up: keys are ignored.
    HangingUp,
}

impl Stage {
    fn name(self) -> &'static str {
        match self {
            Stage::Menu => "menu",
            Stage::Transferring => "transferring",
            Stage::HangingUp => "hanging-up",
        }
    }
}

/// The call's stage; none before the call is established.
pub fn stage() -> Option<Stage> {
    let stored = call_state(STAGE)?;
    [Stage::Menu, Stage::Transferring, Stage::HangingUp]
        .into_iter()
        .find(|stage| stage.name() == stored)
}

pub fn set_stage(stage: Stage) -> Result<(), String> {
    set_call_state(STAGE, stage.name())
}

/// Counts one more invalid key and returns the count so far.
pub fn count_invalid_key() -> Result<u32, String> {
    let count = call_state(INVALID_KEYS)
        .and_then(|count| count.parse::<u32>().ok())
        .unwrap_or(0)
        + 1;
    set_call_state(INVALID_KEYS, &count.to_string())?;
    Ok(count)
}

/// Remembers to hang up when the operation `operation_id` completes.
pub fn hang_up_after(operation_id: &str) -> Result<(), String> {
    set_call_state(HANG_UP_AFTER, operation_id)?;
    set_stage(Stage::HangingUp)
}

/// Whether the call is to be hung up now that `operation_id` has completed.
pub fn is_last_prompt(operation_id: &str) -> bool {
    call_state(HANG_UP_AFTER).as_deref() == Some(operation_id)
}
