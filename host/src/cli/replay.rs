//! `callhost replay --plugin P.wasm [--config C] --notifications FILE.json [--json]`: feeds
//! recorded notifications (an exported journal, or hand-written) through a plugin, one at a
//! time, against a quiet Graph simulator that answers the plugin's requests without
//! notifications of its own, and prints the Graph requests that resulted.

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde_json::Value;

use crate::call::{CallAction, JoinMeeting, MeetingRef};
use crate::scenario::{ServiceSpec, SimulatedService};
use crate::simulator::{RecordedRequest, SimRecord, SimulatorSettings};

/// How long one notification may take to reach the service.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the service may take to handle one notification.
const HANDLING_TIMEOUT: Duration = Duration::from_secs(30);

/// Replays the notifications in `path` through the plugin and prints the requests.
pub fn replay_file(
    plugin: &Path,
    config: Option<&Path>,
    notifications: &Path,
    json: bool,
) -> anyhow::Result<()> {
    let documents = read_notifications(notifications)?;
    let spec = ServiceSpec::load(plugin, config)?;
    let runtime = tokio::runtime::Runtime::new()?;
    let requests = runtime.block_on(replay(&spec, &documents))?;
    let mut out = std::io::stdout().lock();
    for request in &requests {
        if json {
            writeln!(out, "{}", serde_json::to_string(request)?)?;
        } else {
            let body = request.body.as_ref().map(|b| format!(" {b}"));
            writeln!(
                out,
                "{} {}{}",
                request.method,
                request.path,
                body.unwrap_or_default()
            )?;
        }
    }
    Ok(())
}

/// A JSON array of `commsNotifications` documents (a single document is taken as one).
pub fn read_notifications(path: &Path) -> anyhow::Result<Vec<Value>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the notifications {}", path.display()))?;
    let value: Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    let documents = match value {
        Value::Array(documents) => documents,
        document @ Value::Object(_) => vec![document],
        _ => bail!(
            "{}: expected a JSON array of commsNotifications documents",
            path.display()
        ),
    };
    for (index, document) in documents.iter().enumerate() {
        if document.get("value").and_then(Value::as_array).is_none() {
            bail!(
                "{} notification {}: not a commsNotifications document (no `value` array)",
                path.display(),
                index + 1
            );
        }
    }
    Ok(documents)
}

/// Feeds `documents` to the plugin of `spec`, each once the previous one was handled, and
/// returns every request Graph received. Calls that begin with an incoming call are offered
/// to the plugin; calls the bot created are joined again from the meeting their first
/// notification names, and get their recorded ids back.
pub async fn replay(
    spec: &ServiceSpec,
    documents: &[Value],
) -> anyhow::Result<Vec<RecordedRequest>> {
    let settings = SimulatorSettings {
        emit_notifications: false,
        ..SimulatorSettings::default()
    };
    let service = SimulatedService::start(spec, settings).await?;
    service.sim.plan_ids(documents);
    let mut calls = HashSet::new();
    for (index, document) in documents.iter().enumerate() {
        let name = format!("notification {}", index + 1);
        let call_id =
            call_of(document).with_context(|| format!("{name}: its resourceUrl names no call"))?;
        if calls.insert(call_id.clone()) && !begins_incoming_call(document) {
            rejoin(&service, &call_id, document)
                .await
                .with_context(|| format!("{name}: call {call_id}"))?;
        }
        service.sim.learn(document);
        deliver(&service, &call_id, document)
            .await
            .with_context(|| name.clone())?;
    }
    Ok(service.sim.requests())
}

fn call_of(document: &Value) -> Option<String> {
    let url = document
        .pointer("/value/0/resourceUrl")
        .and_then(Value::as_str)?;
    let id = url.split("/calls/").nth(1)?.split('/').next()?;
    (!id.is_empty()).then(|| id.to_string())
}

fn begins_incoming_call(document: &Value) -> bool {
    let entry = document.pointer("/value/0");
    let text = |pointer: &str| {
        entry
            .and_then(|e| e.pointer(pointer))
            .and_then(Value::as_str)
    };
    text("/changeType") == Some("created")
        && text("/resourceData/state").is_none_or(|s| s == "incoming")
}

/// The meeting a created call's notification names, as the join that created it.
fn recorded_meeting(document: &Value) -> Option<MeetingRef> {
    let data = document.pointer("/value/0/resourceData")?;
    let meeting = data.get("meetingInfo")?;
    let text =
        |v: &Value, pointer: &str| v.pointer(pointer).and_then(Value::as_str).map(String::from);
    match text(meeting, "/@odata.type")?.trim_start_matches("#microsoft.graph.") {
        "joinMeetingIdMeetingInfo" => Some(MeetingRef::JoinMeetingId {
            join_meeting_id: text(meeting, "/joinMeetingId")?,
            passcode: text(meeting, "/passcode"),
        }),
        "organizerMeetingInfo" => {
            let chat = data.get("chatInfo")?;
            let (thread, message) = (text(chat, "/threadId")?, text(chat, "/messageId")?);
            let organizer = text(meeting, "/organizer/user/id")?;
            let tenant = text(meeting, "/organizer/user/tenantId")?;
            Some(MeetingRef::JoinUrl(format!(
                "https://teams.microsoft.com/l/meetup-join/{thread}/{message}?context={{\"Tid\":\"{tenant}\",\"Oid\":\"{organizer}\"}}"
            )))
        }
        _ => None,
    }
}

/// Joins the meeting of a call the bot created, as the admin path did.
async fn rejoin(service: &SimulatedService, call_id: &str, document: &Value) -> anyhow::Result<()> {
    let Some(meeting) = recorded_meeting(document) else {
        bail!(
            "its first notification is not an incoming call and names no meeting (meetingInfo) to join; replay drives incoming calls and meeting joins"
        );
    };
    let action = CallAction::JoinMeeting(JoinMeeting {
        meeting,
        tenant_id: None,
        display_name: None,
    });
    let joined = service
        .dispatcher
        .create_call(&service.plugin_id, action)
        .await
        .context("joining its meeting again")?;
    if joined != call_id {
        bail!("joining its meeting again gave call {joined}; the recorded calls are out of order");
    }
    Ok(())
}

/// Sends one document to the service and waits until it was handled.
async fn deliver(
    service: &SimulatedService,
    call_id: &str,
    document: &Value,
) -> anyhow::Result<()> {
    let sim = &service.sim;
    let delivered = || {
        sim.records()
            .into_iter()
            .filter_map(|r| match r {
                SimRecord::Notification { status, .. } => Some(status),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let before = delivered().len();
    sim.send_raw(call_id, document.clone());
    let status = sim
        .wait_until(DELIVERY_TIMEOUT, || delivered().get(before).copied())
        .await
        .context("the service did not take the notification")?;
    if !(200..300).contains(&status) {
        bail!("the service answered {status} to the notification");
    }
    if !service.dispatcher.drain(HANDLING_TIMEOUT).await {
        bail!("not handled within {} s", HANDLING_TIMEOUT.as_secs());
    }
    Ok(())
}
