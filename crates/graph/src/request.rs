//! One Graph request, independent of how it is sent, and [`build`], which turns each
//! [`callhost_call::CallAction`] into one.

mod body;
mod build;
#[cfg(test)]
mod compare;
mod create;

pub use build::{
    MAX_INVITEES, MAX_PROMPTS, MAX_REDIRECT_TARGETS, RECORD_SECONDS, REDIRECT_TIMEOUT_SECONDS,
    RequestContext, build,
};
pub use create::MAX_CALL_TARGETS;

use serde::Serialize;
use serde_json::Value;

/// HTTP method of a Graph request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Method {
    #[serde(rename = "GET")]
    Get,
    #[serde(rename = "POST")]
    Post,
    #[serde(rename = "DELETE")]
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Delete => "DELETE",
        }
    }
}

/// A request to Graph: `path` is relative to the configured base URL and starts with `/`
/// (for example `/communications/calls/{id}/answer`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GraphRequest {
    pub method: Method,
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
}

impl GraphRequest {
    pub fn post(path: impl Into<String>, body: Value) -> Self {
        Self {
            method: Method::Post,
            path: path.into(),
            body: Some(body),
        }
    }

    pub fn post_empty(path: impl Into<String>) -> Self {
        Self {
            method: Method::Post,
            path: path.into(),
            body: None,
        }
    }

    pub fn get(path: impl Into<String>) -> Self {
        Self {
            method: Method::Get,
            path: path.into(),
            body: None,
        }
    }

    pub fn delete(path: impl Into<String>) -> Self {
        Self {
            method: Method::Delete,
            path: path.into(),
            body: None,
        }
    }
}
