//! `POST /api/calls`: Graph's call notifications. The token is verified from the headers
//! before the body is read; the body is read within a size limit and a time limit, parsed,
//! admitted for its calls' tenant and queues, appended to the calls' stored journals, queued,
//! and answered `202` before any plugin runs.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{ApiError, CallbackState};
use crate::dispatch::Refusal;
use crate::graph::notification::{self, NotificationError};

pub(super) async fn notifications(
    State(state): State<CallbackState>,
    request: Request,
) -> Response {
    if !state.readiness.plugins_ready() {
        // Not ready yet (readyz says so): Graph retries, a load balancer sends it elsewhere.
        let response = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "callhost is starting and loading its plugins; retry shortly",
        );
        return retry_after(response.into_response(), "5");
    }
    let (parts, body) = request.into_parts();
    let headers = &parts.headers;
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let claims = match state.auth.verify(authorization).await {
        Ok(claims) => claims,
        Err(e) => {
            // The details (expected audience, issuers, key URL) are for the operator only.
            tracing::warn!(error = %e, "callback refused: token not valid");
            let mut response = ApiError::unauthorized(e.public_message()).into_response();
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
            return response;
        }
    };
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if let Some(length) = announced.filter(|l| *l > state.limits.body_limit_bytes as u64) {
        // Refused before a byte of it is read.
        return too_large(state.limits.body_limit_bytes, Some(length));
    }
    let body = match read_body(body, &state).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let chain_id = header_text(headers, "x-microsoft-skype-chain-id");
    // Graph names each message; a body posted twice is then recognised per call.
    let message_id = header_text(headers, "x-microsoft-skype-message-id").filter(|v| !v.is_empty());
    let list = match notification::parse_delivery(&body, message_id) {
        Ok(list) => list,
        // The legacy-format first notification: Graph sends it again in its own format.
        Err(NotificationError::NotCommsNotifications) => {
            return StatusCode::NO_CONTENT.into_response();
        }
        Err(NotificationError::Malformed(reason)) => {
            tracing::warn!(reason = %excerpt(&reason), chain_id = chain_id.map(excerpt), "malformed callback body refused");
            return ApiError::bad_request(format!("malformed notification body: {reason}"))
                .into_response();
        }
    };
    let tenant = claims.tenant_id.as_str();
    let count = list.len();
    // Answered 202 only once every notification is in its call's stored journal.
    match state.dispatcher.accept(list, tenant).await {
        Ok(repeats) => {
            tracing::debug!(
                count,
                repeats,
                tenant,
                chain_id = chain_id.map(excerpt),
                "notifications accepted"
            );
            StatusCode::ACCEPTED.into_response()
        }
        Err(refusal) => refused(refusal),
    }
}

/// `413` for a body over `server.body_limit_bytes` (`announced` in its `Content-Length`).
fn too_large(limit: usize, announced: Option<u64>) -> Response {
    tracing::warn!(
        limit,
        announced,
        "callback refused: body larger than server.body_limit_bytes"
    );
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the body is larger than {limit} bytes"),
    )
    .into_response()
}

/// The body, read within `server.body_limit_bytes` and `server.body_read_timeout_ms`.
async fn read_body(body: Body, state: &CallbackState) -> Result<axum::body::Bytes, Response> {
    let limits = &state.limits;
    let read = axum::body::to_bytes(body, limits.body_limit_bytes);
    match tokio::time::timeout(limits.body_read_timeout, read).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(e)) => {
            let over_limit = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            if over_limit {
                Err(too_large(limits.body_limit_bytes, None))
            } else {
                tracing::warn!(error = %e, "callback refused: the body could not be read");
                Err(ApiError::bad_request("the body could not be read").into_response())
            }
        }
        Err(_) => {
            tracing::warn!(
                timeout_ms = limits.body_read_timeout.as_millis() as u64,
                "callback refused: body not received within server.body_read_timeout_ms"
            );
            let mut response = ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "the body did not arrive in time",
            )
            .into_response();
            response.headers_mut().insert(
                header::CONNECTION,
                header::HeaderValue::from_static("close"),
            );
            Err(response)
        }
    }
}

/// The answer to a callback the dispatcher refused; the details go to the log only.
fn refused(refusal: Refusal) -> Response {
    match &refusal {
        Refusal::InvalidCallId { .. } => {
            tracing::warn!(refusal = %refusal, "callback refused: malformed call id");
            ApiError::bad_request(refusal.to_string()).into_response()
        }
        Refusal::ForeignTenant { .. } => {
            tracing::warn!(refusal = %refusal, "callback refused: the token's tenant is not the call's");
            ApiError::new(
                StatusCode::FORBIDDEN,
                "the callback's token is for another tenant than the call's",
            )
            .into_response()
        }
        Refusal::NotStored { error } => {
            tracing::error!(%error, "callback refused: its notifications could not be stored; Graph will send them again");
            let response = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the notifications could not be stored; retry later",
            );
            retry_after(response.into_response(), "5")
        }
        Refusal::CallBusy { .. } | Refusal::QueueFull { .. } => {
            tracing::warn!(refusal = %refusal, "callback refused for now: the queue is full");
            let response = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "too many notifications are queued; retry later",
            );
            retry_after(response.into_response(), "1")
        }
    }
}

fn retry_after(mut response: Response, seconds: &'static str) -> Response {
    response.headers_mut().insert(
        header::RETRY_AFTER,
        header::HeaderValue::from_static(seconds),
    );
    response
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn excerpt(text: &str) -> String {
    crate::dispatch::excerpt(text)
}
