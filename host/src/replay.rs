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

use callhost::call::{CallAction, JoinMeeting, MeetingInfo, MeetingRef};
use callhost::graph::id::{id_key, same_id};
use callhost::graph::model::Call;
use callhost::graph::notification::{self, CommsNotification, ResourceData};
use callhost_simulator::scenario::{ServiceSpec, SimulatedService};
use callhost_simulator::{RecordedRequest, SimRecord, SimulatorSettings};

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
        if let Err(e) = parse_document(document) {
            bail!("{} notification {}: {e:#}", path.display(), index + 1);
        }
    }
    Ok(documents)
}

/// Feeds `documents` to the plugin of `spec`, each once the previous one was handled, and
/// returns every request Graph received. Calls that begin with an incoming call are offered
/// to the plugin; calls the bot created are joined again from the meeting their first
/// notification names, and get their recorded ids back. Documents are read by the service's
/// own parser: what `serve` accepts, replay accepts.
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
        let notifications = parse_document(document).with_context(|| name.clone())?;
        let mut first_call = None;
        for call in calls_of(&notifications) {
            first_call.get_or_insert(call.id.clone());
            if calls.insert(id_key(&call.id).into_owned()) && !call.begins_incoming {
                let meeting = call
                    .meeting
                    .as_ref()
                    .with_context(|| format!("{name}: call {}: {NO_MEETING}", call.id))?;
                rejoin(&service, &call.id, meeting.clone())
                    .await
                    .with_context(|| format!("{name}: call {}", call.id))?;
            }
        }
        let call_id =
            first_call.with_context(|| format!("{name}: its resourceUrl names no call"))?;
        service.sim.learn(document);
        deliver(&service, &call_id, document)
            .await
            .with_context(|| name.clone())?;
    }
    Ok(service.sim.requests())
}

const NO_MEETING: &str = "its first notification is not an incoming call and names no meeting (meetingInfo) to join; replay drives incoming calls and meeting joins";

fn parse_document(document: &Value) -> anyhow::Result<Vec<CommsNotification>> {
    let body = serde_json::to_vec(document)?;
    notification::parse(&body).map_err(|e| anyhow::anyhow!("{e}"))
}

/// A call a document names, in the order of its first notification.
struct RecordedCall {
    id: String,
    /// The document holds the call's incoming-call notification.
    begins_incoming: bool,
    /// The meeting the call's notifications name, to join it again.
    meeting: Option<MeetingRef>,
}

fn calls_of(notifications: &[CommsNotification]) -> Vec<RecordedCall> {
    let mut calls: Vec<RecordedCall> = Vec::new();
    for n in notifications {
        let Some(id) = n.call_id() else { continue };
        let index = match calls.iter().position(|c| same_id(&c.id, id)) {
            Some(index) => index,
            None => {
                calls.push(RecordedCall {
                    id: id.to_owned(),
                    begins_incoming: false,
                    meeting: None,
                });
                calls.len() - 1
            }
        };
        let call = &mut calls[index];
        call.begins_incoming |= n.is_incoming_call();
        if call.meeting.is_none()
            && let ResourceData::Call(data) = &n.data
        {
            call.meeting = recorded_meeting(data);
        }
    }
    calls
}

/// The meeting a call's notification names, as the join that created it.
fn recorded_meeting(call: &Call) -> Option<MeetingRef> {
    match notification::meeting_info(call.meeting_info.as_ref()?)? {
        MeetingInfo::JoinMeetingId {
            join_meeting_id,
            passcode,
        } => Some(MeetingRef::JoinMeetingId {
            join_meeting_id,
            passcode,
        }),
        MeetingInfo::Organizer(organizer) => {
            let chat = notification::chat_info(call.chat_info.as_ref()?)?;
            let tenant = organizer.tenant_id.as_deref()?;
            Some(MeetingRef::JoinUrl(format!(
                "https://teams.microsoft.com/l/meetup-join/{}/{}?context={{\"Tid\":\"{tenant}\",\"Oid\":\"{}\"}}",
                chat.thread_id, chat.message_id, organizer.id
            )))
        }
        MeetingInfo::Token(_) => None,
    }
}

/// Joins the meeting of a call the bot created, as the admin path did.
async fn rejoin(
    service: &SimulatedService,
    call_id: &str,
    meeting: MeetingRef,
) -> anyhow::Result<()> {
    let action = CallAction::JoinMeeting(JoinMeeting {
        meeting,
        tenant_id: None,
        display_name: None,
    });
    let joined = service
        .dispatcher
        .create_call(&service.plugin_id, action, true)
        .await
        .context("joining its meeting again")?;
    if !same_id(&joined, call_id) {
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
