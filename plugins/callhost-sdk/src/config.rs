//! The plugin's configured values (the `config` table of its entry in the host configuration),
//! read as strings, prompts, transfer targets or durations. A missing or malformed value is an error that
//! names the key and the fix.

use crate::bindings::callhost::workflow::config;
use crate::{Error, Prompt, Result, Target, parse_target};

/// The value of `key`, if configured.
pub fn get(key: &str) -> Option<String> {
    config::get(key)
}

/// The value of `key`, or an error that names the missing key.
pub fn required(key: &str) -> Result<String> {
    get(key).ok_or_else(|| {
        Error::new(format!(
            "config value `{key}` is not set; add it to the plugin's `config` table"
        ))
    })
}

/// The prompt whose URL is the value of `key`, named `key`.
pub fn prompt(key: &str) -> Result<Prompt> {
    Ok(Prompt::new(key, required(key)?))
}

/// The transfer target written under `key` as `user:<object-id>`, `phone:+<E.164 number>` or
/// `application:<app-id>`, named `key`.
pub fn target(key: &str) -> Result<Target> {
    let value = required(key)?;
    match parse_target(&value) {
        Some(identity) => Ok(Target::new(key, identity)),
        None => Err(Error::new(format!(
            "config value `{key}` = `{value}` is not a transfer target; expected {}",
            crate::target::EXPECTED_FORM
        ))),
    }
}

/// The milliseconds written under `key` as a decimal number, or `default` when unset.
pub fn millis(key: &str, default: std::time::Duration) -> Result<std::time::Duration> {
    let Some(text) = get(key) else {
        return Ok(default);
    };
    text.parse()
        .map(std::time::Duration::from_millis)
        .map_err(|_| {
            Error::new(format!(
                "config `{key}` is not a number of milliseconds: `{text}`"
            ))
        })
}
