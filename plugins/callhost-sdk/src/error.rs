//! The error a workflow returns from an event: a message the host logs.

use std::fmt;

use crate::log;
use crate::types::CallError;

/// Why handling an event failed. The message is what the host logs for the event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    message: String,
}

/// The result of a workflow's handlers and of this crate's helpers.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// A failed call-control request: logged as a warning, and the error to return.
    /// `request` names it, as in "transfer to sales".
    pub fn call_failed(request: &str, error: &CallError) -> Self {
        let message = format!("{request} failed: {}", describe(error));
        log::warn(&message, &[]);
        Self { message }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<String> for Error {
    fn from(message: String) -> Self {
        Self { message }
    }
}

impl From<&str> for Error {
    fn from(message: &str) -> Self {
        Self::new(message)
    }
}

impl From<Error> for String {
    fn from(error: Error) -> Self {
        error.message
    }
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
