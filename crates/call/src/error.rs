//! Why a call-control action failed, as a workflow sees it.

use serde::{Deserialize, Serialize};

/// The host-side mirror of WIT `call-error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "error", rename_all = "kebab-case")]
pub enum CallError {
    #[error("the call or participant no longer exists")]
    NotFound,
    #[error("Graph refused the request: missing permission or tenant policy")]
    Forbidden,
    #[error("Graph is throttling the bot and retries were exhausted")]
    Throttled,
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error("Graph answered {status} {code}: {message}")]
    Upstream {
        status: u16,
        code: String,
        message: String,
    },
    #[error("Graph did not answer in time")]
    Timeout,
    #[error("not permitted: {0}")]
    NotPermitted(String),
    #[error("{0}")]
    Other(String),
}
