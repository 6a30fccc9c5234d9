//! Key-press menus: which key chooses what, and how many wrong keys a caller may press.

use crate::Result;
use crate::state;
use crate::types::Tone;

/// The choices of a menu by key.
///
/// ```ignore
/// const MENU: Menu<Choice> = Menu::new(&[(Tone::One, Choice::Sales), (Tone::Zero, Choice::Operator)]);
/// match MENU.choice(tone.tone) { Some(choice) => …, None => … }
/// ```
#[derive(Debug)]
pub struct Menu<C: 'static> {
    choices: &'static [(Tone, C)],
}

impl<C: Copy> Menu<C> {
    pub const fn new(choices: &'static [(Tone, C)]) -> Self {
        Self { choices }
    }

    /// What `tone` chooses; `None` for a key the menu does not offer.
    pub fn choice(&self, tone: Tone) -> Option<C> {
        self.choices
            .iter()
            .find(|(key, _)| *key == tone)
            .map(|(_, choice)| *choice)
    }
}

/// Counts a caller's wrong keys in the call's state, up to a limit.
#[derive(Debug)]
pub struct WrongKeys {
    state_key: &'static str,
    limit: u32,
}

/// What a wrong key leaves the caller with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempts {
    /// Fewer than the limit so far: offer the menu again.
    Left,
    /// The limit is reached.
    Exhausted,
}

impl WrongKeys {
    /// Counts under `state_key` of the call's state; `limit` wrong keys exhaust the attempts.
    pub const fn new(state_key: &'static str, limit: u32) -> Self {
        Self { state_key, limit }
    }

    /// Counts one more wrong key.
    pub fn count(&self) -> Result<Attempts> {
        let count = state::call().increment(self.state_key)?;
        Ok(if count >= self.limit {
            Attempts::Exhausted
        } else {
            Attempts::Left
        })
    }
}
