//! Why a Graph request failed: [`GraphError`], Graph's OData error bodies, and what a workflow
//! sees of it ([`CallError`]).

use std::time::Duration;

use serde_json::Value;

use uuid::Uuid;

use crate::request::Method;
use crate::token::TokenError;
use callhost_call::CallError;

/// A failed Graph request.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    /// Graph answered with an error status (after any retries).
    #[error(
        "Graph answered {status} to {} {path}: {code}: {message} (request-id {}, \
         client-request-id {client_request_id})",
        .method.as_str(),
        or_unknown(.request_id)
    )]
    Status {
        status: u16,
        method: Method,
        path: String,
        /// The most specific code of the OData error, for example `8522` (call not found).
        code: String,
        message: String,
        request_id: Option<String>,
        client_request_id: Uuid,
    },
    /// Graph kept answering 429 until the attempts or the deadline ran out.
    #[error(
        "Graph kept throttling {} {path} after {attempts} attempts{} (request-id {})",
        .method.as_str(),
        retry_after_note(.retry_after),
        or_unknown(.request_id)
    )]
    Throttled {
        method: Method,
        path: String,
        attempts: u32,
        /// Graph's last `Retry-After`, when it gave one.
        retry_after: Option<Duration>,
        request_id: Option<String>,
    },
    /// No answer in time, or the connection broke after the request may have reached Graph.
    #[error(
        "Graph did not answer {} {path} in time ({detail}); it may have carried it out, \
         so read the call's state before repeating it",
        .method.as_str()
    )]
    Timeout {
        method: Method,
        path: String,
        detail: String,
    },
    /// Graph could not be reached at all.
    #[error(
        "cannot reach Graph at {url}: {source}; check outbound network access and the Graph \
         base URL"
    )]
    Transport {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// A success status with a body that is not JSON.
    #[error(
        "Graph answered {status} to {} {path} with a body that is not JSON: {detail}",
        .method.as_str()
    )]
    InvalidResponse {
        status: u16,
        method: Method,
        path: String,
        detail: String,
    },
    #[error(transparent)]
    Token(#[from] TokenError),
}

impl GraphError {
    /// The HTTP status Graph answered with, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            GraphError::Status { status, .. } | GraphError::InvalidResponse { status, .. } => {
                Some(*status)
            }
            GraphError::Throttled { .. } => Some(429),
            _ => None,
        }
    }
}

fn or_unknown(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or("unknown")
}

fn retry_after_note(retry_after: &Option<Duration>) -> String {
    match retry_after {
        Some(wait) => format!("; it asked to wait {} s more", wait.as_secs()),
        None => String::new(),
    }
}

impl From<GraphError> for CallError {
    fn from(err: GraphError) -> Self {
        match err {
            GraphError::Status { status: 404, .. } => CallError::NotFound,
            GraphError::Status { status: 403, .. } => CallError::Forbidden,
            GraphError::Status {
                status: 400,
                message,
                code,
                ..
            } => CallError::InvalidArgument(if message.is_empty() { code } else { message }),
            GraphError::Status {
                status,
                code,
                message,
                ..
            } => CallError::Upstream {
                status,
                code,
                message,
            },
            GraphError::Throttled { .. } => CallError::Throttled,
            GraphError::Timeout { .. } => CallError::Timeout,
            other @ (GraphError::Transport { .. }
            | GraphError::InvalidResponse { .. }
            | GraphError::Token(_)) => CallError::Other(other.to_string()),
        }
    }
}

/// The parts of an OData error body (`{"error":{"code","message","innerError":{…}}}`) that
/// callers branch on and support asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ODataError {
    /// The innermost code present; Graph nests the specific one (`8522`) under a generic one.
    pub code: String,
    /// The outermost message present, which is the one written for people.
    pub message: String,
    pub request_id: Option<String>,
}

impl ODataError {
    pub fn parse(body: &[u8]) -> Option<Self> {
        let value: Value = serde_json::from_slice(body).ok()?;
        let mut node = value.get("error")?.as_object()?;
        let mut parsed = ODataError {
            code: String::new(),
            message: String::new(),
            request_id: None,
        };
        // Bounded: a hostile body cannot make this loop forever, and real ones nest 1–3 deep.
        for _ in 0..16 {
            if let Some(code) = node.get("code").and_then(text) {
                parsed.code = code;
            }
            if parsed.message.is_empty()
                && let Some(message) = node.get("message").and_then(text)
            {
                parsed.message = message;
            }
            if let Some(id) = node.get("request-id").and_then(text) {
                parsed.request_id = Some(id);
            }
            let inner = node
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("innererror"));
            match inner.and_then(|(_, v)| v.as_object()) {
                Some(next) => node = next,
                None => break,
            }
        }
        Some(parsed)
    }
}

/// A non-empty string or number as text (calling-service codes can be numbers).
fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn status(status: u16, code: &str, message: &str) -> GraphError {
        GraphError::Status {
            status,
            method: Method::Post,
            path: "/communications/calls/c1/answer".into(),
            code: code.into(),
            message: message.into(),
            request_id: Some("r1".into()),
            client_request_id: Uuid::nil(),
        }
    }

    #[test]
    fn innermost_code_and_outer_message_are_kept() {
        let body = json!({"error": {"code": "itemNotFound", "message": "Call not found",
            "innerError": {"request-id": "abc", "date": "2024-01-01T00:00:00",
                "innererror": {"code": 8522}}}});
        let parsed = ODataError::parse(body.to_string().as_bytes()).unwrap();
        assert_eq!(parsed.code, "8522");
        assert_eq!(parsed.message, "Call not found");
        assert_eq!(parsed.request_id.as_deref(), Some("abc"));
    }

    #[test]
    fn body_without_an_error_object_is_not_odata() {
        assert_eq!(ODataError::parse(b"<html>Bad gateway</html>"), None);
        assert_eq!(ODataError::parse(br#"{"value": []}"#), None);
    }

    #[test]
    fn statuses_map_to_call_errors() {
        assert_eq!(
            CallError::from(status(404, "8522", "Call not found")),
            CallError::NotFound
        );
        assert_eq!(
            CallError::from(status(403, "Forbidden", "no")),
            CallError::Forbidden
        );
        assert_eq!(
            CallError::from(status(400, "BadRequest", "Invalid callbackUri")),
            CallError::InvalidArgument("Invalid callbackUri".into())
        );
        assert_eq!(
            CallError::from(status(500, "UnknownError", "boom")),
            CallError::Upstream {
                status: 500,
                code: "UnknownError".into(),
                message: "boom".into()
            }
        );
        let throttled = GraphError::Throttled {
            method: Method::Get,
            path: "/x".into(),
            attempts: 4,
            retry_after: None,
            request_id: None,
        };
        assert_eq!(CallError::from(throttled), CallError::Throttled);
        let timeout = GraphError::Timeout {
            method: Method::Post,
            path: "/x".into(),
            detail: "10 s".into(),
        };
        assert_eq!(CallError::from(timeout), CallError::Timeout);
    }

    #[test]
    fn token_failures_become_other_with_the_endpoint() {
        let err = GraphError::Token(TokenError::Rejected {
            url: "https://login.example/t/oauth2/v2.0/token".into(),
            status: 401,
            error: "invalid_client".into(),
            description: "AADSTS7000215".into(),
        });
        let CallError::Other(text) = CallError::from(err) else {
            panic!("not Other")
        };
        assert!(
            text.contains("https://login.example/t/oauth2/v2.0/token"),
            "{text}"
        );
        assert!(text.contains("client secret"), "{text}");
    }
}
