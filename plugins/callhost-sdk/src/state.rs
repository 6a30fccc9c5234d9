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
//! ```

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
        state::set(self.scope, key, &bytes).map_err(|error| match error {
            StateError::QuotaExceeded(limits) => Error::new(format!(
                "{} state `{key}` not stored: quota exceeded ({limits})",
                self.name()
            )),
        })
    }

    /// Adds one to the count under `key` (0 when unset) and returns the new count.
    pub fn increment(&self, key: &str) -> Result<u32> {
        let count = self.get::<u32>(key).unwrap_or(0) + 1;
        self.set(key, &count)?;
        Ok(count)
    }

    /// Removes `key`; removing a missing key is not an error.
    pub fn delete(&self, key: &str) {
        state::delete(self.scope, key);
    }

    /// Every key of the scope, in no particular order.
    pub fn keys(&self) -> Vec<String> {
        state::list_keys(self.scope)
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
