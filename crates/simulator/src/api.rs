//! The simulator's HTTP endpoints: Graph's calls API, the token endpoint, the OpenID
//! configuration and its keys.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::{RecordedRequest, SimRecord, SimShared, calls, lock};

pub(crate) fn router(shared: Arc<SimShared>) -> Router {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .route("/v1/.well-known/OpenIdConfiguration", get(openid))
        .route("/v1/keys", get(keys))
        .fallback(graph)
        .with_state(shared)
}

async fn token(
    State(shared): State<Arc<SimShared>>,
    Path(_tenant): Path<String>,
    body: String,
) -> Response {
    {
        let mut faults = lock(&shared.faults);
        if faults.token_failures > 0 {
            faults.token_failures -= 1;
            return (
                StatusCode::UNAUTHORIZED,
                axum::Json(json!({
                    "error": "invalid_client",
                    "error_description": "AADSTS7000215: Invalid client secret provided.",
                })),
            )
                .into_response();
        }
        if faults.token_outages > 0 {
            faults.token_outages -= 1;
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(json!({
                    "error": "temporarily_unavailable",
                    "error_description": "AADSTS90033: A transient error has occurred. Please try again.",
                })),
            )
                .into_response();
        }
    }
    if !body.contains("grant_type=client_credentials") {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({ "error": "unsupported_grant_type" })),
        )
            .into_response();
    }
    let n = {
        let mut issued = lock(&shared.tokens_issued);
        *issued += 1;
        *issued
    };
    axum::Json(json!({ "token_type": "Bearer", "expires_in": 3599, "access_token": format!("sim-access-token-{n}") })).into_response()
}

async fn openid(State(shared): State<Arc<SimShared>>) -> Response {
    axum::Json(
        shared
            .issuer
            .openid_configuration(&format!("{}/v1/keys", shared.base_url)),
    )
    .into_response()
}

async fn keys(State(shared): State<Arc<SimShared>>) -> Response {
    axum::Json(shared.issuer.jwks_json()).into_response()
}

fn odata_error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, axum::Json(json!({ "error": { "code": code, "message": message, "innerError": { "request-id": uuid::Uuid::new_v4().to_string() } } })))
        .into_response()
}

async fn graph(
    State(shared): State<Arc<SimShared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let body: Option<Value> = if body.is_empty() {
        None
    } else {
        serde_json::from_slice(&body).ok()
    };
    let (slow, failure) = {
        let mut faults = lock(&shared.faults);
        let failure = (faults.fail_next > 0).then(|| {
            faults.fail_next -= 1;
            (faults.fail_status, faults.retry_after)
        });
        (faults.slow, failure)
    };
    let revoked_upto = lock(&shared.faults).revoke_tokens_upto;
    let token_number = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer sim-access-token-"))
        .and_then(|n| n.parse::<u32>().ok());
    let mut response = if token_number.is_none_or(|n| n <= revoked_upto) {
        odata_error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "Access token is empty or not issued by the token endpoint.",
        )
    } else if method == Method::POST
        && !headers.contains_key(header::CONTENT_LENGTH)
        && !headers.contains_key(header::TRANSFER_ENCODING)
    {
        // As Graph does: a POST must say how long its body is, even when it has none.
        odata_error(
            StatusCode::LENGTH_REQUIRED,
            "LengthRequired",
            "A POST request needs a Content-Length header.",
        )
    } else if let Some((status, retry_after)) = failure {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        let mut response = odata_error(
            status,
            if status == StatusCode::TOO_MANY_REQUESTS {
                "TooManyRequests"
            } else {
                "ServiceUnavailable"
            },
            "Injected by the simulator.",
        );
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    } else {
        handle(&shared, &method, &path, body.as_ref())
    };
    // Graph acts, then answers late: a client that gave up may still find the effect.
    if !slow.is_zero() {
        tokio::time::sleep(slow).await;
    }
    response.headers_mut().insert(
        "request-id",
        HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()).expect("a uuid is a header value"),
    );
    shared.record(SimRecord::Request(RecordedRequest {
        method: method.to_string(),
        path,
        body,
        status: response.status().as_u16(),
        at: shared.elapsed(),
    }));
    response
}

fn handle(shared: &Arc<SimShared>, method: &Method, path: &str, body: Option<&Value>) -> Response {
    let Some(rest) = path.strip_prefix("/v1.0/communications/calls") else {
        return odata_error(
            StatusCode::NOT_FOUND,
            "UnknownResource",
            "The simulator knows only /v1.0/communications/calls.",
        );
    };
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let empty = Value::Null;
    let body = body.unwrap_or(&empty);
    let client_context = body
        .get("clientContext")
        .and_then(Value::as_str)
        .map(String::from);
    let media = shared.settings.media_duration;
    if segments.is_empty() {
        return if method == Method::POST {
            let created = calls::create(shared, body);
            let location = format!(
                "{}/v1.0/communications/calls/{}",
                shared.base_url,
                created["id"].as_str().unwrap_or_default()
            );
            let mut response = (StatusCode::CREATED, axum::Json(created)).into_response();
            response.headers_mut().insert(
                header::LOCATION,
                HeaderValue::from_str(&location).expect("a URL is a header value"),
            );
            response
        } else {
            odata_error(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                "Use POST to create a call.",
            )
        };
    }
    let id = segments[0];
    let Some(state) = shared.calls.state(id) else {
        return odata_error(StatusCode::NOT_FOUND, "8522", "Call not found.");
    };
    let ok = |value: Value| (StatusCode::OK, axum::Json(value)).into_response();
    let accepted = || StatusCode::ACCEPTED.into_response();
    let action = segments
        .get(1)
        .map(|s| s.trim_start_matches("microsoft.graph."))
        .unwrap_or("");
    match (method.clone(), action, segments.len()) {
        (Method::GET, "", 1) => ok(json!({
            "@odata.type": "#microsoft.graph.call",
            "id": id,
            "state": state,
            "direction": shared.calls.direction(id),
        })),
        (Method::DELETE, "", 1) => {
            calls::hang_up_by_bot(shared, id);
            StatusCode::NO_CONTENT.into_response()
        }
        (Method::POST, "answer", 2) if state == "incoming" => {
            calls::answer(shared, id);
            accepted()
        }
        (Method::POST, "reject", 2) if state == "incoming" => {
            calls::reject(shared, id);
            accepted()
        }
        (Method::POST, "redirect", 2) if state == "incoming" => {
            calls::redirect(shared, id);
            accepted()
        }
        (Method::POST, "answer" | "reject" | "redirect", 2) => odata_error(
            StatusCode::BAD_REQUEST,
            "7503",
            &format!(
                "The call is {state}; only an incoming call can be answered, rejected or redirected."
            ),
        ),
        (Method::POST, "transfer", 2) => {
            calls::transfer(shared, id);
            accepted()
        }
        (Method::POST, "keepAlive", 2) => {
            shared
                .calls
                .with(id, |c| c.last_keepalive = std::time::Instant::now());
            StatusCode::OK.into_response()
        }
        (Method::POST, "playPrompt", 2) => ok(calls::operation(
            shared,
            id,
            "playPromptOperation",
            client_context,
            Some(media),
            json!({}),
        )),
        (Method::POST, "recordResponse", 2) => ok(calls::operation(
            shared,
            id,
            "recordOperation",
            client_context,
            Some(media),
            json!({
                "resultInfo": { "@odata.type": "#microsoft.graph.resultInfo", "code": 200, "subcode": 8515, "message": "Action completed, max record duration reached." },
                "recordingLocation": format!("{}/recordings/{id}", shared.base_url),
                "recordingAccessToken": "sim-recording-token",
                "completionReason": "maxRecordDurationReached",
            }),
        )),
        (Method::POST, "subscribeToTone", 2) => {
            shared.calls.with(id, |c| c.tone_subscribed = true);
            ok(calls::operation(
                shared,
                id,
                "subscribeToToneOperation",
                client_context,
                None,
                json!({}),
            ))
        }
        (Method::POST, "sendDtmfTones", 2) => ok(calls::operation(
            shared,
            id,
            "sendDtmfTonesOperation",
            client_context,
            Some(media),
            json!({ "completionReason": "completedSuccessfully" }),
        )),
        (Method::POST, "cancelMediaProcessing", 2) => {
            calls::cancel_media(shared, id);
            ok(calls::operation(
                shared,
                id,
                "cancelMediaProcessingOperation",
                client_context,
                None,
                json!({}),
            ))
        }
        (Method::POST, "mute" | "unmute", 2) => {
            let muted = action == "mute";
            let me = shared
                .calls
                .with(id, |c| c.my_participant_id.clone())
                .unwrap_or_default();
            calls::participant_mutes(shared, id, &me, muted);
            let kind = if muted {
                "muteParticipantOperation"
            } else {
                "unmuteParticipantOperation"
            };
            ok(calls::operation(
                shared,
                id,
                kind,
                client_context,
                None,
                json!({}),
            ))
        }
        (Method::POST, "participants", 3) if segments[2] == "invite" => {
            let invited: Vec<Value> = body
                .get("participants")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let mut op = calls::operation(
                shared,
                id,
                "inviteParticipantsOperation",
                client_context,
                Some(media),
                json!({ "participants": invited }),
            );
            op["status"] = json!("Running");
            op["participants"] = json!(invited);
            for p in &invited {
                if let Some(identity) = invited_identity(p) {
                    let shared = shared.clone();
                    let call = id.to_string();
                    tokio::spawn(async move {
                        tokio::time::sleep(media + Duration::from_millis(1)).await;
                        calls::participant_joins(&shared, &call, identity);
                    });
                }
            }
            ok(op)
        }
        (Method::POST, "participants", 4) => {
            let pid = segments[2];
            match segments[3] {
                "mute" => {
                    calls::participant_mutes(shared, id, pid, true);
                    ok(calls::operation(
                        shared,
                        id,
                        "muteParticipantOperation",
                        client_context,
                        None,
                        json!({}),
                    ))
                }
                "startHoldMusic" => (
                    StatusCode::ACCEPTED,
                    axum::Json(calls::operation(
                        shared,
                        id,
                        "startHoldMusicOperation",
                        client_context,
                        Some(media),
                        json!({}),
                    )),
                )
                    .into_response(),
                "stopHoldMusic" => (
                    StatusCode::ACCEPTED,
                    axum::Json(calls::operation(
                        shared,
                        id,
                        "stopHoldMusicOperation",
                        client_context,
                        Some(media),
                        json!({}),
                    )),
                )
                    .into_response(),
                other => odata_error(
                    StatusCode::NOT_FOUND,
                    "UnknownAction",
                    &format!("no participant action `{other}`"),
                ),
            }
        }
        _ => odata_error(
            StatusCode::BAD_REQUEST,
            "UnknownAction",
            &format!("the simulator does not implement {method} {path}"),
        ),
    }
}

fn invited_identity(participant: &Value) -> Option<callhost::call::Identity> {
    let set = participant.get("identity")?;
    let (kind, value) = [
        ("user", callhost::call::IdentityKind::User),
        ("phone", callhost::call::IdentityKind::Phone),
        ("application", callhost::call::IdentityKind::Application),
        ("guest", callhost::call::IdentityKind::Guest),
    ]
    .into_iter()
    .find_map(|(key, kind)| set.get(key).map(|v| (kind, v)))?;
    Some(callhost::call::Identity {
        display_name: value
            .get("displayName")
            .and_then(Value::as_str)
            .map(String::from),
        ..callhost::call::Identity::new(kind, value.get("id").and_then(Value::as_str)?)
    })
}
