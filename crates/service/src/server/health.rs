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

/// Ready: plugins loaded, Graph's signing keys fetched, credentials present. Otherwise `503`
/// with the reasons.
pub(super) async fn readyz(State(state): State<CallbackState>) -> (StatusCode, Json<Value>) {
    let reasons = state.readiness.reasons(&state.auth);
    if reasons.is_empty() {
        (
            StatusCode::OK,
            Json(json!({ "ready": true, "calls": state.dispatcher.calls().len() })),
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "ready": false, "reason": reasons.join("; "), "reasons": reasons })),
        )
    }
}
