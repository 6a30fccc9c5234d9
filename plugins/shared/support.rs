//! What every workflow plugin of this workspace needs besides its workflow: configured values
//! and prompts, log lines, and messages for failed call-control requests.
//!
//! Each plugin includes this file as its `support` module, next to its `bindings` module.

use crate::bindings::callhost::workflow::config;
use crate::bindings::callhost::workflow::log::{self, Level};
use crate::bindings::callhost::workflow::state::{self, Scope, StateError};
use crate::bindings::callhost::workflow::types::{CallError, MediaPrompt};

/// The configured value of `key`, or an error that names the missing key.
pub fn required_config(key: &str) -> Result<String, String> {
    config::get(key).ok_or_else(|| {
        format!("config value `{key}` is not set; add it to the plugin's `config` table")
    })
}

/// The prompt whose URL is the configured value of `key`.
pub fn configured_prompt(key: &str) -> Result<MediaPrompt, String> {
    let uri = required_config(key)?;
    Ok(MediaPrompt {
        resource_id: Some(resource_id(key, &uri)),
        uri,
    })
}

/// Graph caches prompt audio under its resource id. Deriving the id from the URL too means a
/// changed URL is fetched again rather than served from the cache.
fn resource_id(key: &str, uri: &str) -> String {
    let hash = uri.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    });
    format!("{key}-{hash:08x}")
}

/// The text stored under `key` in the call's state.
pub fn call_state(key: &str) -> Option<String> {
    state::get(Scope::Call, key).map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
}

/// Stores `value` under `key` in the call's state.
pub fn set_call_state(key: &str, value: &str) -> Result<(), String> {
    state::set(Scope::Call, key, value.as_bytes()).map_err(|error| match error {
        StateError::QuotaExceeded(limits) => {
            format!("call state `{key}` not stored: quota exceeded ({limits})")
        }
    })
}

pub fn debug(message: &str, fields: &[(&str, &str)]) {
    write(Level::Debug, message, fields);
}

pub fn info(message: &str, fields: &[(&str, &str)]) {
    write(Level::Info, message, fields);
}

pub fn warn(message: &str, fields: &[(&str, &str)]) {
    write(Level::Warn, message, fields);
}

fn write(level: Level, message: &str, fields: &[(&str, &str)]) {
    let fields: Vec<(String, String)> = fields
        .iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect();
    log::log(level, message, &fields);
}

/// Logs a failed call-control request and returns the message for `on-event`'s error.
pub fn call_failed(request: &str, error: &CallError) -> String {
    let message = format!("{request} failed: {}", describe(error));
    warn(&message, &[]);
    message
}

/// A call error in the words of the WIT contract.
fn describe(error: &CallError) -> String {
    match error {
        CallError::NotFound => "not-found (the call is gone)".to_string(),
        CallError::Forbidden => "forbidden (missing permission or tenant policy)".to_string(),
        CallError::Throttled => "throttled".to_string(),
        CallError::Timeout => "timeout (the request may or may not have taken effect)".to_string(),
        CallError::InvalidArgument(text) => format!("invalid-argument: {text}"),
        CallError::NotPermitted(text) => format!("not-permitted: {text}"),
        CallError::Other(text) => format!("other: {text}"),
        CallError::Upstream(upstream) => format!(
            "upstream: HTTP {} {}: {}",
            upstream.status, upstream.code, upstream.message
        ),
    }
}
