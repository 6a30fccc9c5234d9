//! What one attempt at a Graph request came to, and the errors it turns into.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION};

use super::{GraphError, GraphResponse};
use crate::request::GraphRequest;

/// What one attempt came to.
pub(super) enum Attempt {
    Done(GraphResponse),
    /// Graph certainly did not act on it; `error` is the answer if no retry is left.
    Retry {
        error: GraphError,
        retry_after: Option<Duration>,
    },
    Unauthorized(GraphError),
    Fail(GraphError),
}

/// A request that failed without an answer. A refused connection means nothing was sent, so
/// it may be retried; otherwise the request may have reached Graph.
pub(super) fn transport_failure(
    request: &GraphRequest,
    url: &str,
    source: reqwest::Error,
    idempotent: bool,
    limit: Duration,
) -> Attempt {
    let safe_to_retry = idempotent || source.is_connect();
    let error = if source.is_timeout() && !source.is_connect() {
        timeout(request, format!("no answer within {limit:?}"))
    } else if source.is_connect() || idempotent {
        GraphError::Transport {
            url: url.to_owned(),
            source,
        }
    } else {
        timeout(
            request,
            format!("connection failed after sending: {source}"),
        )
    };
    match safe_to_retry {
        true => Attempt::Retry {
            error,
            retry_after: None,
        },
        false => Attempt::Fail(error),
    }
}

pub(super) fn parse_success(
    request: &GraphRequest,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    request_id: Option<String>,
) -> Attempt {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        match serde_json::from_slice(body) {
            Ok(value) => Some(value),
            Err(e) => {
                return Attempt::Fail(GraphError::InvalidResponse {
                    status: status.as_u16(),
                    method: request.method,
                    path: request.path.clone(),
                    detail: e.to_string(),
                });
            }
        }
    };
    let location = header(headers, LOCATION.as_str());
    Attempt::Done(GraphResponse {
        status: status.as_u16(),
        body,
        location,
        request_id,
    })
}

pub(super) fn timeout(request: &GraphRequest, detail: String) -> GraphError {
    GraphError::Timeout {
        method: request.method,
        path: request.path.clone(),
        detail,
    }
}

/// The final error once retries are exhausted: a 429 becomes [`GraphError::Throttled`].
pub(super) fn exhausted(
    error: GraphError,
    attempts: u32,
    retry_after: Option<Duration>,
) -> GraphError {
    match error {
        GraphError::Status {
            status: 429,
            method,
            path,
            request_id,
            ..
        } => GraphError::Throttled {
            method,
            path,
            attempts,
            retry_after,
            request_id,
        },
        other => other,
    }
}

pub(super) fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name)?.to_str().ok().map(str::to_owned)
}

/// A short, printable version of a non-OData error body.
pub(super) fn body_excerpt(status: StatusCode, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text: String = text.trim().chars().take(300).collect();
    if text.is_empty() {
        status.canonical_reason().unwrap_or("").to_owned()
    } else {
        text
    }
}
