//! The HTTP edge: Graph's callback endpoint, the admin API and health checks. Knows nothing of
//! wasmtime.

pub mod admin;
mod callbacks;
mod error;
mod health;
mod readiness;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

pub use admin::{AdminState, admin_router};
pub use error::ApiError;
pub use readiness::Readiness;

use crate::dispatch::Dispatcher;
use crate::graph::callback_auth::CallbackAuthenticator;

/// What the callback and health endpoints share.
#[derive(Clone)]
pub struct CallbackState {
    pub dispatcher: Dispatcher,
    pub auth: CallbackAuthenticator,
    /// Whether the service can act on calls (plugins loaded, signing keys fetched,
    /// credentials present), and why not.
    pub readiness: Readiness,
}

/// The public router: `POST <callback_path>`, `/healthz`, `/readyz`.
pub fn callback_router(state: CallbackState, callback_path: &str, body_limit: usize) -> Router {
    Router::new()
        .route(callback_path, post(callbacks::notifications))
        .layer(DefaultBodyLimit::max(body_limit))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .with_state(state)
}
