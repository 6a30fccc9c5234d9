//! Log lines into the host's log, tagged with the plugin and the call: a message and fields.
//!
//! ```ignore
//! log::info("key pressed", &[("key", tone.as_str())]);
//! ```

use crate::bindings::callhost::workflow::log::{Level, log};

pub fn trace(message: &str, fields: &[(&str, &str)]) {
    write(Level::Trace, message, fields);
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

pub fn error(message: &str, fields: &[(&str, &str)]) {
    write(Level::Error, message, fields);
}

fn write(level: Level, message: &str, fields: &[(&str, &str)]) {
    let fields: Vec<(String, String)> = fields
        .iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect();
    log(level, message, &fields);
}
