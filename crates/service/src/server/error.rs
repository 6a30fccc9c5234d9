//! The one error type of HTTP handlers: a status and a message a person can act on. Details
//! that help only operators go to the log, not the response.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.message }))).into_response()
    }
}

impl From<crate::call::CallError> for ApiError {
    fn from(error: crate::call::CallError) -> Self {
        use crate::call::CallError as E;
        let status = match &error {
            E::NotFound => StatusCode::NOT_FOUND,
            E::Forbidden | E::NotPermitted(_) => StatusCode::FORBIDDEN,
            E::Throttled => StatusCode::TOO_MANY_REQUESTS,
            E::InvalidArgument(_) => StatusCode::BAD_REQUEST,
            E::Timeout => StatusCode::GATEWAY_TIMEOUT,
            E::Upstream { .. } | E::Other(_) => StatusCode::BAD_GATEWAY,
        };
        Self::new(status, error.to_string())
    }
}
