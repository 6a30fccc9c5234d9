//! Typed key-value state kept by the host: a plugin instance lives for one event, so whatever a
//! workflow must remember goes here. [`call()`] is the event's call's state (dropped after the
//! call ends), [`plugin()`] is shared by all calls of the plugin.
//!
//! Values are serde values. A string is stored as its text and everything else as JSON, so
//! state written by workflows in other languages reads naturally: a stage `menu`, a count `2`.
//!
//! ```ignore
//! state::call().set("stage", &Stage::Menu)?;
//! let stage: Option<Stage> = state::call().get("stage");
//! let invalid_keys = state::call().increment("invalid-keys")?;
//! // Shared by every call on every instance: counted and updated at once, never lost.
//! let calls_today = state::plugin().add("calls-today", 1)?;
//! let queue: Vec<String> = state::plugin().update("queue", |q: Option<Vec<String>>| {
//!     let mut q = q.unwrap_or_default();
//!     q.push(caller.clone());
//!     q
//! })?;
//! ```
//!
//! `set` and `delete` are stored when the event was handled, and dropped if it fails. On
//! plugin state, [`State::add`], [`State::update`] and [`State::increment`] are written at
//! once with compare-and-swap, so calls handled at the same time on other instances cannot
//! undo each other's writes.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde::de::value::StrDeserializer;

use crate::bindings::callhost::workflow::state::{self, Scope, StateError};
use crate::{Error, Result};

/// The state of one scope.
#[derive(Debug, Clone, Copy)]
pub struct State {
    scope: Scope,
}

/// The state of the event's call.
pub fn call() -> State {
    State { scope: Scope::Call }
}

/// The state shared by all calls of this plugin.
pub fn plugin() -> State {
    State {
        scope: Scope::Plugin,
    }
}

impl State {
    /// The value under `key`; `None` when there is none or it is not a `T`.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        decode(&state::get(self.scope, key)?)
    }

    /// Stores `value` under `key`, replacing what was there.
    pub fn set<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<()> {
        let bytes = encode(value).map_err(|error| {
            Error::new(format!("{} state `{key}` not stored: {error}", self.name()))
        })?;
        state::set(self.scope, key, &bytes).map_err(|error| self.refused(key, error))
    }

    /// Adds one to the count under `key` (0 when unset) and returns the new count. On plugin
    /// state, at once and exactly ([`State::add`]).
    pub fn increment(&self, key: &str) -> Result<u32> {
        let count = match self.scope {
            Scope::Call => {
                let count = self.get::<u32>(key).unwrap_or(0) + 1;
                self.set(key, &count)?;
                return Ok(count);
            }
            Scope::Plugin => self.add(key, 1)?,
        };
        u32::try_from(count)
            .map_err(|_| Error::new(format!("plugin state `{key}` is {count}, not a count")))
    }

    /// Adds `delta` to the plugin-state counter under `key` (0 when unset), at once, and
    /// returns its new value. Only plugin state has shared counters; on call state this is
    /// an error.
    pub fn add(&self, key: &str, delta: i64) -> Result<i64> {
        self.only_plugin(key)?;
        state::increment(key, delta).map_err(|error| self.refused(key, error))
    }

    /// Replaces the plugin-state value under `key` with what `change` makes of it (`None`
    /// when unset or not a `T`), at once: when another call changed the value in between,
    /// `change` runs again on the newer one. Returns the value stored. Only on plugin state.
    pub fn update<T, F>(&self, key: &str, mut change: F) -> Result<T>
    where
        T: Serialize + DeserializeOwned,
        F: FnMut(Option<T>) -> T,
    {
        self.only_plugin(key)?;
        /// Enough for any realistic contention; past it the store is the problem.
        const TRIES: u32 = 64;
        for _ in 0..TRIES {
            let current = state::read_plugin(key).map_err(|error| self.refused(key, error))?;
            let (old, expected) = match current {
                Some(stored) => (decode(&stored.value), stored.revision),
                None => (None, 0),
            };
            let new = change(old);
            let bytes = encode(&new)
                .map_err(|error| Error::new(format!("plugin state `{key}` not stored: {error}")))?;
            match state::compare_and_swap(key, expected, Some(&bytes)) {
                Ok(_) => return Ok(new),
                Err(StateError::Conflict(_)) => continue,
                Err(error) => return Err(self.refused(key, error)),
            }
        }
        Err(Error::new(format!(
            "plugin state `{key}` not stored: other calls changed it {TRIES} times in a row"
        )))
    }

    /// Removes `key`; removing a missing key is not an error.
    pub fn delete(&self, key: &str) {
        state::delete(self.scope, key);
    }

    /// Every key of the scope, in no particular order.
    pub fn keys(&self) -> Vec<String> {
        state::list_keys(self.scope)
    }

    fn only_plugin(&self, key: &str) -> Result<()> {
        match self.scope {
            Scope::Plugin => Ok(()),
            Scope::Call => Err(Error::new(format!(
                "call state `{key}`: shared updates are for plugin state; a call's events are handled one at a time, so use `get` and `set`"
            ))),
        }
    }

    /// What the host's refusal means, for the workflow's error.
    fn refused(&self, key: &str, error: StateError) -> Error {
        let why = match error {
            StateError::QuotaExceeded(limits) => format!("quota exceeded ({limits})"),
            StateError::Conflict(_) => "another call changed it at the same time".to_string(),
            StateError::Invalid(what) => what,
            StateError::Unavailable(why) => format!("the store is out of reach ({why})"),
        };
        Error::new(format!("{} state `{key}` not stored: {why}", self.name()))
    }

    fn name(&self) -> &'static str {
        match self.scope {
            Scope::Call => "call",
            Scope::Plugin => "plugin",
        }
    }
}

/// A string as its text, unless the text starts with `"` and would read back as JSON;
/// anything else as JSON.
fn encode<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<Vec<u8>> {
    let json = serde_json::to_vec(value)?;
    if json.first() == Some(&b'"') {
        let text: String = serde_json::from_slice(&json)?;
        if !text.starts_with('"') {
            return Ok(text.into_bytes());
        }
    }
    Ok(json)
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    serde_json::from_slice(bytes).ok().or_else(|| {
        let text = std::str::from_utf8(bytes).ok()?;
        T::deserialize(StrDeserializer::<serde::de::value::Error>::new(text)).ok()
    })
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "kebab-case")]
    enum Stage {
        HangingUp,
    }

    fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(
        value: T,
        stored: &str,
    ) {
        let bytes = encode(&value).unwrap();
        assert_eq!(String::from_utf8_lossy(&bytes), stored);
        assert_eq!(decode::<T>(&bytes), Some(value));
    }

    #[test]
    fn strings_are_stored_as_text_and_the_rest_as_json() {
        round_trip(Stage::HangingUp, "hanging-up");
        round_trip("op-7".to_string(), "op-7");
        round_trip(3_u32, "3");
        round_trip(vec![1, 2], "[1,2]");
        round_trip("42".to_string(), "42");
        // Text that would read back as a JSON string keeps its quotes.
        round_trip("\"quoted\"".to_string(), "\"\\\"quoted\\\"\"");
    }

    #[test]
    fn plain_text_written_elsewhere_reads_as_a_string() {
        assert_eq!(decode::<String>(b"42"), Some("42".to_string()));
        assert_eq!(decode::<u32>(b"2"), Some(2));
        assert_eq!(decode::<u32>(b"two"), None);
    }
}
