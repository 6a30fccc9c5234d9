//! The admin API: join meetings, place calls, list and hang up calls, read their timelines
//! and export their notifications, list and reload plugins. Bound to loopback by default; a
//! bearer token (`CALLHOST_ADMIN_TOKEN`) guards it whenever it is set, and must be set for any
//! other address.

use std::sync::Arc;

use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::{ApiError, Readiness};
use crate::call::{CallAction, Identity, JoinMeeting, MeetingRef, PlaceCall};
use crate::dispatch::Dispatcher;
use crate::graph::callback_auth::CallbackAuthenticator;
use crate::plugins::PluginsReport;
use crate::reload::{ReloadError, ReloadHandle, ReloadReport};
use crate::storage::history;

/// The environment variable holding the admin API's bearer token.
pub const ADMIN_TOKEN_ENV: &str = "CALLHOST_ADMIN_TOKEN";

/// What the admin handlers share.
#[derive(Clone)]
pub struct AdminState {
    pub dispatcher: Dispatcher,
    /// Where `POST /admin/plugins/{id}/reload` goes.
    pub reload: ReloadHandle,
    /// Required bearer token; `None` leaves the API open (loopback only).
    pub token: Option<Arc<str>>,
    /// Bound to loopback: requests must name a loopback host, so that a web page in the
    /// operator's browser cannot reach the API through a DNS name rebound to 127.0.0.1.
    pub loopback_only: bool,
    /// Why the service is not ready, for `GET /admin/readiness`.
    pub readiness: Readiness,
    pub auth: CallbackAuthenticator,
}

pub fn admin_router(state: AdminState) -> Router {
    Router::new()
        .route("/admin/readiness", get(readiness))
        .route("/admin/meetings/join", post(join_meeting))
        .route("/admin/calls", post(place_call).get(list_calls))
        .route("/admin/calls/{id}", delete(hang_up))
        .route("/admin/calls/{id}/timeline", get(timeline))
        .route("/admin/calls/{id}/state", get(call_state))
        .route("/admin/plugins/{id}/state", get(plugin_state))
        .route("/admin/calls/{id}/notifications", get(notifications))
        .route("/admin/metrics", get(metrics))
        .route("/admin/plugins", get(list_plugins))
        .route("/admin/plugins/{id}/reload", post(reload_plugin))
        .layer(middleware::from_fn_with_state(state.clone(), require_token))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            require_loopback_host,
        ))
        .with_state(state)
}

/// On a loopback listener, only requests for a loopback host: `localhost`, `127.0.0.1`,
/// `[::1]` (any port).
async fn require_loopback_host(
    State(state): State<AdminState>,
    request: Request,
    next: Next,
) -> Response {
    if state.loopback_only {
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .or_else(|| request.uri().host());
        if !host.is_some_and(is_loopback_host) {
            tracing::warn!(host = ?host, "admin request refused: its Host header is not a loopback name");
            return ApiError::new(
                StatusCode::MISDIRECTED_REQUEST,
                "admin API: the Host header must be localhost, 127.0.0.1 or [::1]; bind admin.listen elsewhere with CALLHOST_ADMIN_TOKEN set to reach it by another name",
            )
            .into_response();
        }
    }
    next.run(request).await
}

/// Whether `host` (with or without a port) names this machine's loopback interface.
fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, port)| {
            if port.bytes().all(|b| b.is_ascii_digit()) {
                name
            } else {
                host
            }
        }),
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Why the service is not ready (what `/readyz` does not tell the public listener).
async fn readiness(State(state): State<AdminState>) -> (StatusCode, Json<serde_json::Value>) {
    let reasons = state.readiness.reasons(&state.auth);
    let status = match reasons.is_empty() {
        true => StatusCode::OK,
        false => StatusCode::SERVICE_UNAVAILABLE,
    };
    let calls = state.dispatcher.calls().len();
    let body = json!({ "ready": reasons.is_empty(), "reason": reasons.join("; "), "reasons": reasons, "calls": calls });
    (status, Json(body))
}

async fn require_token(State(state): State<AdminState>, request: Request, next: Next) -> Response {
    if let Some(token) = &state.token {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if !given.is_some_and(|g| constant_time_eq(g.as_bytes(), token.as_bytes())) {
            return ApiError::unauthorized(format!(
                "admin API: send `Authorization: Bearer <{ADMIN_TOKEN_ENV}>`"
            ))
            .into_response();
        }
    }
    next.run(request).await
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct JoinBody {
    join_url: Option<String>,
    join_meeting_id: Option<String>,
    passcode: Option<String>,
    tenant_id: Option<String>,
    plugin: String,
    display_name: Option<String>,
    /// Join even where the plugin's capability policy would not let the plugin itself.
    #[serde(default)]
    override_policy: bool,
}

async fn join_meeting(
    State(state): State<AdminState>,
    Json(body): Json<JoinBody>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let meeting = match (body.join_url, body.join_meeting_id) {
        (Some(url), None) => MeetingRef::JoinUrl(url),
        (None, Some(id)) => MeetingRef::JoinMeetingId {
            join_meeting_id: id,
            passcode: body.passcode,
        },
        _ => {
            return Err(ApiError::bad_request(
                "give exactly one of `joinUrl` or `joinMeetingId` (with `passcode` when the meeting has one)",
            ));
        }
    };
    let action = CallAction::JoinMeeting(JoinMeeting {
        meeting,
        tenant_id: body.tenant_id,
        display_name: body.display_name,
    });
    let call_id = state
        .dispatcher
        .create_call(&body.plugin, action, body.override_policy)
        .await?;
    Ok((StatusCode::CREATED, Json(json!({ "callId": call_id }))))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PlaceBody {
    /// `user:<id>`, `application:<id>`, `phone:+1…`.
    targets: Vec<String>,
    tenant_id: Option<String>,
    subject: Option<String>,
    /// `application-instance:<id>` to call phones from.
    source: Option<String>,
    plugin: String,
    /// Place the call even where the plugin's capability policy would not let the plugin.
    #[serde(default)]
    override_policy: bool,
}

async fn place_call(
    State(state): State<AdminState>,
    Json(body): Json<PlaceBody>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let parse = |t: &String| {
        t.parse::<crate::call::Identity>()
            .map_err(|e| ApiError::bad_request(format!("target {e}")))
    };
    let targets: Vec<Identity> = body.targets.iter().map(parse).collect::<Result<_, _>>()?;
    if targets.is_empty() {
        return Err(ApiError::bad_request(
            "`targets` is empty; name at least one `user:<id>` or `phone:+1…`",
        ));
    }
    let source_application_instance = body.source.as_ref().map(parse).transpose()?;
    let action = CallAction::PlaceCall(PlaceCall {
        targets,
        tenant_id: body.tenant_id,
        subject: body.subject,
        source_application_instance,
    });
    let call_id = state
        .dispatcher
        .create_call(&body.plugin, action, body.override_policy)
        .await?;
    Ok((StatusCode::CREATED, Json(json!({ "callId": call_id }))))
}

/// `?ended=true` adds recently ended calls (at most `limit`, default 100) from the store.
#[derive(Debug, Deserialize)]
struct ListQuery {
    #[serde(default)]
    ended: bool,
    limit: Option<usize>,
}

async fn list_calls(
    State(state): State<AdminState>,
    Query(query): Query<ListQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let live = state.dispatcher.calls();
    if !query.ended {
        return Ok(Json(json!({ "calls": live })));
    }
    let limit = query.limit.unwrap_or(100).min(10_000);
    let store = state.dispatcher.store().as_ref();
    let ended = history::ended_calls(store, limit)
        .await
        .map_err(store_error)?;
    Ok(Json(json!({ "calls": live, "ended": ended })))
}

/// The call's state, as its plugin stored it (also after the call ended, until
/// `storage.keep_ended_hours`).
async fn call_state(
    State(state): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let store = state.dispatcher.store().as_ref();
    let key = crate::graph::id::id_key(&id).into_owned();
    let record = store.call(key.clone()).await.map_err(store_error)?;
    let Some(record) = record else {
        return Err(ApiError::not_found(format!(
            "no call {id} is stored: it is unknown, or ended longer ago than storage.keep_ended_hours"
        )));
    };
    let scope = crate::storage::call_scope(&key, &record.plugin);
    let values = history::state_json(store, scope)
        .await
        .map_err(store_error)?;
    Ok(Json(
        json!({ "callId": record.graph_id, "plugin": record.plugin, "state": values }),
    ))
}

/// The state a plugin shares between its calls.
async fn plugin_state(
    State(state): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if state.dispatcher.plugins().current(&id).is_none() {
        return Err(ApiError::not_found(format!("no plugin `{id}` is loaded")));
    }
    let store = state.dispatcher.store().as_ref();
    let scope = crate::storage::plugin_scope(&id);
    let values = history::state_json(store, scope)
        .await
        .map_err(store_error)?;
    Ok(Json(json!({ "plugin": id, "state": values })))
}

fn store_error(e: crate::storage::StoreError) -> ApiError {
    tracing::error!(error = %e, "admin API: reading the store failed");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("the store could not be read: {e}"),
    )
}

async fn hang_up(
    State(state): State<AdminState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.dispatcher.hang_up(&id).await?;
    Ok(StatusCode::ACCEPTED)
}

/// What happened on the call: notifications in, plugin invocations, Graph requests out.
async fn timeline(
    State(state): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Json<crate::journal::Timeline>, ApiError> {
    state
        .dispatcher
        .journal()
        .timeline(&id)
        .map(Json)
        .ok_or_else(|| unknown_call(&id))
}

/// The call's notifications as a JSON array of `commsNotifications` documents, for
/// `callhost replay`.
async fn notifications(
    State(state): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Json<Vec<serde_json::Value>>, ApiError> {
    state
        .dispatcher
        .journal()
        .notifications(&id)
        .map(Json)
        .ok_or_else(|| unknown_call(&id))
}

fn unknown_call(id: &str) -> ApiError {
    ApiError::not_found(format!(
        "no journal for call {id}: it is unknown, or ended longer ago than journal.keep_ended_s"
    ))
}

async fn metrics(State(state): State<AdminState>) -> Json<serde_json::Value> {
    Json(json!(state.dispatcher.metrics()))
}

/// Each plugin with its current and draining versions and its reload history.
async fn list_plugins(State(state): State<AdminState>) -> Json<PluginsReport> {
    Json(state.dispatcher.plugins().report())
}

/// Reloads a plugin from its file now; 422 when the new version is rejected (the previous one
/// keeps serving).
async fn reload_plugin(
    State(state): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Json<ReloadReport>, ApiError> {
    state.reload.reload(&id).await.map(Json).map_err(|e| {
        let status = match &e {
            ReloadError::UnknownPlugin(_) => StatusCode::NOT_FOUND,
            ReloadError::NotRunning => StatusCode::SERVICE_UNAVAILABLE,
            ReloadError::Rejected(_) => StatusCode::UNPROCESSABLE_ENTITY,
        };
        ApiError::new(status, e.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::is_loopback_host;

    #[test]
    fn only_loopback_names_pass() {
        for host in [
            "localhost",
            "LOCALHOST:8081",
            "127.0.0.1",
            "127.0.0.1:8081",
            "[::1]",
            "[::1]:8081",
            "127.1.2.3:80",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "evil.example",
            "evil.example:8081",
            "localhost.evil.example",
            "10.0.0.1:8081",
            "[::2]:1",
            "",
            "127.0.0.1.nip.io",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }
}
