//! The HTTP edge: Graph's callback endpoint, the admin API and health checks. Knows nothing of
//! wasmtime.

pub mod admin;
mod callbacks;
mod error;
mod health;
mod listener;
mod readiness;
pub mod service_manager;

use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};

pub use admin::{AdminState, admin_router};
pub use error::ApiError;
pub use listener::{ConnectionLimits, serve};
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
    /// How a callback's body is read.
    pub limits: BodyLimits,
}

/// How a callback's body is read, once its token was verified.
#[derive(Debug, Clone)]
pub struct BodyLimits {
    /// Largest body, in bytes; a larger one is answered `413`.
    pub body_limit_bytes: usize,
    /// Time for the whole body; a slower one is answered `408`.
    pub body_read_timeout: Duration,
}

/// The public router: `POST <callback_path>`, `/healthz`, `/readyz`.
pub fn callback_router(state: CallbackState, callback_path: &str) -> Router {
    Router::new()
        .route(callback_path, post(callbacks::notifications))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .with_state(state)
}
