//! `POST /api/calls`: Graph's call notifications. Authenticated, parsed, queued, answered
//! `202` before any plugin runs.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{ApiError, CallbackState};
use crate::graph::notification::{self, NotificationError};

pub(super) async fn notifications(
    State(state): State<CallbackState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !state.readiness.plugins_ready() {
        // Not ready yet (readyz says so): Graph retries, a load balancer sends it elsewhere.
        let mut response = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "callhost is starting and loading its plugins; retry shortly",
        )
        .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
        return response;
    }
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
    let chain_id = headers
        .get("x-microsoft-skype-chain-id")
        .and_then(|v| v.to_str().ok());
    let scenario_id = headers.get("scenario-id").and_then(|v| v.to_str().ok());
    // Graph names each message; a body posted twice is then recognised per call.
    let message_id = headers
        .get("x-microsoft-skype-message-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty());
    match notification::parse_delivery(&body, message_id) {
        Ok(list) => {
            tracing::debug!(count = list.len(), tenant = %claims.tenant_id, chain_id, scenario_id, "notifications accepted");
            for n in list {
                state.dispatcher.enqueue(n, Some(&claims.tenant_id));
            }
            StatusCode::ACCEPTED.into_response()
        }
        // The legacy-format first notification: Graph sends it again in its own format.
        Err(NotificationError::NotCommsNotifications) => StatusCode::NO_CONTENT.into_response(),
        Err(NotificationError::Malformed(reason)) => {
            tracing::warn!(%reason, chain_id, "malformed callback body refused");
            ApiError::bad_request(format!("malformed notification body: {reason}")).into_response()
        }
    }
}
