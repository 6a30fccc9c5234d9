//! The admin API: join meetings, place calls, list and hang up calls, read their timelines
//! and export their notifications, list and reload plugins. Bound to loopback by default; a
//! bearer token (`CALLHOST_ADMIN_TOKEN`) guards it whenever it is set, and must be set for any
//! other address.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::ApiError;
use crate::call::{CallAction, Identity, JoinMeeting, MeetingRef, PlaceCall};
use crate::dispatch::Dispatcher;
use crate::plugins::PluginsReport;
use crate::reload::{ReloadError, ReloadHandle, ReloadReport};

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
}

pub fn admin_router(state: AdminState) -> Router {
    Router::new()
        .route("/admin/meetings/join", post(join_meeting))
        .route("/admin/calls", post(place_call).get(list_calls))
        .route("/admin/calls/{id}", delete(hang_up))
        .route("/admin/calls/{id}/timeline", get(timeline))
        .route("/admin/calls/{id}/notifications", get(notifications))
        .route("/admin/metrics", get(metrics))
        .route("/admin/plugins", get(list_plugins))
        .route("/admin/plugins/{id}/reload", post(reload_plugin))
        .layer(middleware::from_fn_with_state(state.clone(), require_token))
        .with_state(state)
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
    let call_id = state.dispatcher.create_call(&body.plugin, action).await?;
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
    let call_id = state.dispatcher.create_call(&body.plugin, action).await?;
    Ok((StatusCode::CREATED, Json(json!({ "callId": call_id }))))
}

async fn list_calls(State(state): State<AdminState>) -> Json<serde_json::Value> {
    Json(json!({ "calls": state.dispatcher.calls() }))
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
