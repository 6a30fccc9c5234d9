//! Liveness and readiness.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::CallbackState;

/// Alive: the process answers. Needs no network.
pub(super) async fn healthz() -> &'static str {
    "ok"
}

/// Ready: plugins loaded, Graph's signing keys fetched, credentials present; otherwise `503`.
/// The public listener says no more than that: why not is in the log and at
/// `GET /admin/readiness`.
pub(super) async fn readyz(State(state): State<CallbackState>) -> (StatusCode, Json<Value>) {
    let ready = state.readiness.reasons(&state.auth).is_empty();
    let status = match ready {
        true => StatusCode::OK,
        false => StatusCode::SERVICE_UNAVAILABLE,
    };
    (status, Json(json!({ "ready": ready })))
}
