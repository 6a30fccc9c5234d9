//! Liveness and readiness.

use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::CallbackState;

/// Alive: the process answers. Needs no network.
pub(super) async fn healthz() -> &'static str {
    "ok"
}

/// Ready: plugins loaded and credentials present.
pub(super) async fn readyz(State(state): State<CallbackState>) -> (StatusCode, Json<Value>) {
    if state.ready.load(Ordering::SeqCst) {
        (
            StatusCode::OK,
            Json(json!({ "ready": true, "calls": state.dispatcher.calls().len() })),
        )
    } else {
        let reason = state
            .not_ready_reason
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "ready": false, "reason": reason })),
        )
    }
}
