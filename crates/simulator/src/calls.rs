//! The simulated calls and what each request or remote action does to them, following
//! Graph's documented notification sequences.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::notify::{Notification, send};
use super::{SimShared, lock};
use callhost::call::{Identity, Tone};

#[derive(Debug, Clone)]
pub(crate) struct SimParticipant {
    pub id: String,
    pub identity: Identity,
    pub muted: bool,
}

#[derive(Debug)]
pub(crate) struct SimCall {
    pub id: String,
    pub state: String,
    pub direction: &'static str,
    pub my_participant_id: String,
    pub tone_subscribed: bool,
    pub tone_sequence: i64,
    pub participants: Vec<SimParticipant>,
    pub roster_sequence: i64,
    pub meeting: Option<Value>,
    pub chat: Option<Value>,
    pub last_keepalive: Instant,
    /// Media operations that can still be cancelled: (operation id, @odata.type, client context).
    pub media: Vec<(String, &'static str, Option<String>)>,
    /// `source` and `targets` of an incoming call, as its `created` notification gave them.
    pub parties: Value,
}

#[derive(Default)]
pub(crate) struct SimCalls {
    calls: Mutex<HashMap<String, SimCall>>,
    next: Mutex<u64>,
}

impl SimCalls {
    pub fn state(&self, id: &str) -> Option<String> {
        lock(&self.calls).get(id).map(|c| c.state.clone())
    }

    pub fn direction(&self, id: &str) -> Option<&'static str> {
        lock(&self.calls).get(id).map(|c| c.direction)
    }

    /// Forgets a call without a notification, as Graph does with calls it lost.
    pub fn forget(&self, id: &str) {
        lock(&self.calls).remove(id);
    }

    pub fn ids(&self) -> Vec<String> {
        lock(&self.calls).keys().cloned().collect()
    }

    pub fn with<T>(&self, id: &str, f: impl FnOnce(&mut SimCall) -> T) -> Option<T> {
        lock(&self.calls).get_mut(id).map(f)
    }

    pub(super) fn insert(&self, call: SimCall) {
        lock(&self.calls).insert(call.id.clone(), call);
    }

    fn remove(&self, id: &str) -> Option<SimCall> {
        lock(&self.calls).remove(id)
    }

    /// A fresh id in Graph's GUID form.
    pub fn new_id(&self) -> String {
        let mut next = lock(&self.next);
        *next += 1;
        let n = *next;
        let stamp = super::notify::unix_now() & 0xffff_ffff;
        format!(
            "{stamp:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
            (n >> 16) & 0xffff,
            n & 0xfff,
            (n >> 12) & 0xfff,
            n
        )
    }
}

pub(crate) fn identity_set(i: &Identity) -> Value {
    let key = i.kind.identity_set_key().unwrap_or("device");
    let mut identity = json!({ "@odata.type": "#microsoft.graph.identity", "id": i.id });
    if let Some(name) = &i.display_name {
        identity["displayName"] = json!(name);
    }
    if let Some(tenant) = &i.tenant_id {
        identity["tenantId"] = json!(tenant);
    }
    json!({ "@odata.type": "#microsoft.graph.identitySet", key: identity })
}

fn call_url(id: &str) -> String {
    format!("/communications/calls/{id}")
}

fn state_notification(
    id: &str,
    change: &'static str,
    state: &str,
    result: Option<(i32, i32, &str)>,
) -> Value {
    let mut data = json!({
        "@odata.type": "#microsoft.graph.call",
        "@odata.id": call_url(id),
        "id": id,
        "state": state,
    });
    if let Some((code, subcode, message)) = result {
        data["resultInfo"] = json!({
            "@odata.type": "#microsoft.graph.resultInfo",
            "code": code, "subcode": subcode, "message": message,
        });
    }
    Notification::new(change, call_url(id), data).envelope()
}

fn set_state(shared: &Arc<SimShared>, id: &str, state: &str) {
    shared.calls.with(id, |c| c.state = state.to_string());
}

/// Someone calls the bot: the `created` notification of an incoming call.
pub(crate) fn incoming(shared: &Arc<SimShared>, caller: Identity, callee: Identity) -> String {
    let id = shared.calls.new_id();
    let my_participant_id = shared.calls.new_id();
    let data = json!({
        "@odata.type": "#microsoft.graph.call",
        "@odata.id": call_url(&id),
        "state": "incoming",
        "direction": "incoming",
        "callChainId": shared.calls.new_id(),
        "myParticipantId": my_participant_id,
        "tenantId": shared.settings.tenant_id,
        "source": {
            "@odata.type": "#microsoft.graph.participantInfo",
            "identity": identity_set(&caller),
            "region": "westus",
            "languageId": "en-US",
        },
        "targets": [{
            "@odata.type": "#microsoft.graph.invitationParticipantInfo",
            "identity": identity_set(&callee),
        }],
        "requestedModalities": ["audio"],
    });
    shared.calls.insert(SimCall {
        id: id.clone(),
        state: "incoming".into(),
        direction: "incoming",
        my_participant_id,
        tone_subscribed: false,
        tone_sequence: 0,
        participants: Vec::new(),
        roster_sequence: 0,
        meeting: None,
        chat: None,
        last_keepalive: Instant::now(),
        media: Vec::new(),
        parties: json!({ "source": data["source"], "targets": data["targets"] }),
    });
    send(
        shared,
        &id,
        Notification::new("created", call_url(&id), data).envelope(),
    );
    id
}

/// establishing → established (swapped when the fault asks), and the roster of a meeting.
fn establish(shared: &Arc<SimShared>, id: &str) {
    set_state(shared, id, "established");
    shared.calls.with(id, |c| c.last_keepalive = Instant::now());
    let (meeting, chat) = shared
        .calls
        .with(id, |c| (c.meeting.clone(), c.chat.clone()))
        .unwrap_or_default();
    let with_meeting = |mut notification: Value| {
        let data = &mut notification["value"][0]["resourceData"];
        if let Some(meeting) = &meeting {
            data["meetingInfo"] = meeting.clone();
        }
        if let Some(chat) = &chat {
            data["chatInfo"] = chat.clone();
        }
        notification
    };
    let establishing = with_meeting(state_notification(id, "updated", "establishing", None));
    let established = with_meeting(state_notification(id, "updated", "established", None));
    if lock(&shared.faults).swap_establishing {
        send(shared, id, established);
        send(shared, id, establishing);
    } else {
        send(shared, id, establishing);
        send(shared, id, established);
    }
    if shared
        .calls
        .with(id, |c| c.meeting.is_some())
        .unwrap_or(false)
    {
        roster(shared, id);
    }
}

/// The `updated` roster snapshot of a group call.
pub(crate) fn roster(shared: &Arc<SimShared>, id: &str) {
    let Some((participants, sequence)) = shared.calls.with(id, |c| {
        c.roster_sequence += 1;
        (c.participants.clone(), c.roster_sequence)
    }) else {
        return;
    };
    let list: Vec<Value> = participants
        .iter()
        .map(|p| {
            json!({
                "@odata.type": "#microsoft.graph.participant",
                "id": p.id,
                "info": { "@odata.type": "#microsoft.graph.participantInfo", "identity": identity_set(&p.identity), "languageId": "en-US" },
                "mediaStreams": [{ "@odata.type": "#microsoft.graph.mediaStream", "mediaType": "audio", "sourceId": "1", "direction": "sendReceive", "serverMuted": false }],
                "isMuted": p.muted,
                "isInLobby": false,
                "rosterSequenceNumber": sequence,
            })
        })
        .collect();
    send(
        shared,
        id,
        Notification::new(
            "updated",
            format!("{}/participants", call_url(id)),
            Value::Array(list),
        )
        .envelope(),
    );
}

/// The call ended: the final `deleted` notification, and the call is forgotten.
pub(crate) fn terminate(shared: &Arc<SimShared>, id: &str, result: (i32, i32, &str)) {
    if shared.calls.remove(id).is_some() {
        send(
            shared,
            id,
            state_notification(id, "deleted", "terminated", Some(result)),
        );
    }
}

pub(crate) fn answer(shared: &Arc<SimShared>, id: &str) {
    set_state(shared, id, "establishing");
    establish(shared, id);
}

pub(crate) fn reject(shared: &Arc<SimShared>, id: &str) {
    if shared.calls.remove(id).is_some() {
        let data = json!({ "@odata.type": "#microsoft.graph.call", "@odata.id": call_url(id) });
        send(
            shared,
            id,
            Notification::new("deleted", call_url(id), data).envelope(),
        );
    }
}

/// The end of a redirected call describes the whole call, as Graph's example does.
pub(crate) fn redirect(shared: &Arc<SimShared>, id: &str) {
    let Some(call) = shared.calls.remove(id) else {
        return;
    };
    let result = (200, 0, "The call was redirected.");
    let mut ended = state_notification(id, "deleted", "terminated", Some(result));
    let data = &mut ended["value"][0]["resourceData"];
    data["direction"] = json!(call.direction);
    data["myParticipantId"] = json!(call.my_participant_id);
    data["source"] = call.parties["source"].clone();
    data["targets"] = call.parties["targets"].clone();
    // The example types the targets as plain participantInfo here.
    for target in data["targets"].as_array_mut().into_iter().flatten() {
        target["@odata.type"] = json!("#microsoft.graph.participantInfo");
    }
    send(shared, id, ended);
}

pub(crate) fn transfer(shared: &Arc<SimShared>, id: &str) {
    send(
        shared,
        id,
        state_notification(id, "updated", "transferring", None),
    );
    if shared
        .transfers_succeed
        .load(std::sync::atomic::Ordering::SeqCst)
    {
        set_state(shared, id, "transferAccepted");
        send(
            shared,
            id,
            state_notification(id, "updated", "transferAccepted", None),
        );
        terminate(shared, id, (0, 7015, "GracefulTransferCompleted"));
    } else {
        set_state(shared, id, "established");
        send(
            shared,
            id,
            state_notification(
                id,
                "updated",
                "established",
                Some((500, 7000, "Transfer failed: the target declined.")),
            ),
        );
    }
}

pub(crate) fn hang_up_by_bot(shared: &Arc<SimShared>, id: &str) {
    set_state(shared, id, "terminating");
    send(
        shared,
        id,
        state_notification(id, "updated", "terminating", None),
    );
    terminate(shared, id, (200, 7000, "Call ended by the bot."));
}

pub(crate) fn remote_hang_up(shared: &Arc<SimShared>, id: &str) {
    terminate(
        shared,
        id,
        (200, 4097, "The call was ended by the other participant."),
    );
}

pub(crate) fn press(shared: &Arc<SimShared>, id: &str, tone: Tone) {
    let Some(Some(sequence)) = shared.calls.with(id, |c| {
        c.tone_subscribed.then(|| {
            c.tone_sequence += 1;
            c.tone_sequence
        })
    }) else {
        tracing::debug!(
            call_id = id,
            "simulator: key pressed without a tone subscription; Graph sends nothing"
        );
        return;
    };
    let data = json!({
        "@odata.type": "#microsoft.graph.call",
        "state": "established",
        "toneInfo": { "@odata.type": "#microsoft.graph.toneInfo", "sequenceId": sequence, "tone": tone.as_graph() },
    });
    send(
        shared,
        id,
        Notification::new("updated", call_url(id), data).envelope(),
    );
}

/// A long-running operation: the response body now, the `deleted` completion later.
pub(crate) fn operation(
    shared: &Arc<SimShared>,
    id: &str,
    odata_type: &'static str,
    client_context: Option<String>,
    duration: Option<Duration>,
    completion: Value,
) -> Value {
    let op_id = super::replay::planned_id(shared, id, odata_type);
    let (fail, at_once) = {
        let mut faults = lock(&shared.faults);
        let fail = faults.fail_operations > 0;
        faults.fail_operations = faults.fail_operations.saturating_sub(1);
        (fail, faults.complete_operations_at_once)
    };
    if fail {
        return json!({
            "@odata.type": format!("#microsoft.graph.{odata_type}"),
            "id": op_id,
            "status": "failed",
            "clientContext": client_context,
            "resultInfo": { "@odata.type": "#microsoft.graph.resultInfo", "code": 500, "subcode": 9999, "message": "Injected by the simulator." },
        });
    }
    let duration = duration.filter(|_| !at_once);
    let mut running = json!({
        "@odata.type": format!("#microsoft.graph.{odata_type}"),
        "id": op_id,
        "status": if duration.is_some() { "running" } else { "completed" },
        "clientContext": client_context,
    });
    let Some(duration) = duration else {
        running["resultInfo"] = json!({ "@odata.type": "#microsoft.graph.resultInfo", "code": 200, "subcode": 0, "message": "Action completed successfully." });
        return running;
    };
    if matches!(odata_type, "playPromptOperation" | "recordOperation") {
        shared.calls.with(id, |c| {
            c.media
                .push((op_id.clone(), odata_type, client_context.clone()))
        });
    }
    let url = format!("{}/operations/{op_id}", call_url(id));
    let mut data = json!({
        "@odata.type": format!("#microsoft.graph.{odata_type}"),
        "@odata.id": url,
        "id": op_id,
        "status": "completed",
        "clientContext": client_context,
        "resultInfo": { "@odata.type": "#microsoft.graph.resultInfo", "code": 200, "subcode": 0, "message": "Action completed successfully." },
    });
    if let (Some(data), Value::Object(extra)) = (data.as_object_mut(), completion) {
        data.extend(extra);
    }
    let is_media = matches!(odata_type, "playPromptOperation" | "recordOperation");
    let shared = shared.clone();
    let call = id.to_string();
    let op = op_id.clone();
    tokio::spawn(async move {
        tokio::time::sleep(duration).await;
        // A cancelled prompt or recording has already completed as failed; an ended call
        // completes nothing.
        let deliver = shared
            .calls
            .with(&call, |c| {
                let before = c.media.len();
                c.media.retain(|(o, _, _)| o != &op);
                !is_media || before != c.media.len()
            })
            .unwrap_or(false);
        if deliver {
            send(
                &shared,
                &call,
                Notification::new("deleted", url, data).envelope(),
            );
        }
    });
    running
}

/// cancelMediaProcessing: each queued prompt or recording completes as failed 400/8508.
pub(crate) fn cancel_media(shared: &Arc<SimShared>, id: &str) {
    let cancelled = shared
        .calls
        .with(id, |c| std::mem::take(&mut c.media))
        .unwrap_or_default();
    for (op_id, odata_type, client_context) in cancelled {
        let url = format!("{}/operations/{op_id}", call_url(id));
        let mut data = json!({
            "@odata.type": format!("#microsoft.graph.{odata_type}"),
            "@odata.id": url, "id": op_id, "status": "failed", "clientContext": client_context,
            "resultInfo": { "@odata.type": "#microsoft.graph.resultInfo", "code": 400, "subcode": 8508, "message": "Action failed, the operation was cancelled." },
        });
        if odata_type == "recordOperation" {
            data["completionReason"] = json!("operationCanceled");
            data["recordingLocation"] = json!("");
            data["recordingAccessToken"] = json!("");
        }
        send(
            shared,
            id,
            Notification::new("deleted", url, data).envelope(),
        );
    }
}

/// POST /communications/calls: a placed call or a meeting join. Returns the 201 body.
pub(crate) fn create(shared: &Arc<SimShared>, body: &Value) -> Value {
    let id = super::replay::planned_id(shared, "", "call");
    let my_participant_id = shared.calls.new_id();
    let meeting = body.get("meetingInfo").cloned();
    let mut chat = body.get("chatInfo").cloned();
    if chat.is_none()
        && meeting
            .as_ref()
            .and_then(|m| m.get("joinMeetingId"))
            .is_some()
    {
        chat = Some(
            json!({ "@odata.type": "#microsoft.graph.chatInfo", "threadId": format!("19:meeting_{id}@thread.v2"), "messageId": "0" }),
        );
    }
    let app = Identity {
        display_name: Some("callhost".into()),
        ..Identity::application(shared.settings.bot_app_id.clone())
    };
    let mut participants = Vec::new();
    if meeting.is_some() {
        participants.push(SimParticipant {
            id: my_participant_id.clone(),
            identity: app.clone(),
            muted: false,
        });
        let organizer = Identity {
            display_name: Some("Organizer".into()),
            ..Identity::user(shared.calls.new_id())
        };
        participants.push(SimParticipant {
            id: shared.calls.new_id(),
            identity: organizer,
            muted: false,
        });
    }
    shared.calls.insert(SimCall {
        id: id.clone(),
        state: "establishing".into(),
        direction: "outgoing",
        my_participant_id: my_participant_id.clone(),
        tone_subscribed: false,
        tone_sequence: 0,
        participants,
        roster_sequence: 0,
        meeting: meeting.clone(),
        chat: chat.clone(),
        last_keepalive: Instant::now(),
        media: Vec::new(),
        parties: Value::Null,
    });
    establish(shared, &id);
    let mut response = body.clone();
    response["@odata.type"] = json!("#microsoft.graph.call");
    response["id"] = json!(id);
    response["state"] = json!("establishing");
    response["direction"] = json!("outgoing");
    response["myParticipantId"] = json!(my_participant_id);
    response["callChainId"] = json!(shared.calls.new_id());
    if let Some(chat) = chat {
        response["chatInfo"] = chat;
    }
    response
}

pub(crate) fn participant_joins(shared: &Arc<SimShared>, id: &str, who: Identity) -> String {
    let pid = shared.calls.new_id();
    shared.calls.with(id, |c| {
        c.participants.push(SimParticipant {
            id: pid.clone(),
            identity: who,
            muted: false,
        })
    });
    roster(shared, id);
    pid
}

pub(crate) fn participant_leaves(shared: &Arc<SimShared>, id: &str, pid: &str) {
    shared
        .calls
        .with(id, |c| c.participants.retain(|p| p.id != pid));
    roster(shared, id);
}

pub(crate) fn participant_mutes(shared: &Arc<SimShared>, id: &str, pid: &str, muted: bool) {
    shared.calls.with(id, |c| {
        for p in c.participants.iter_mut().filter(|p| p.id == pid) {
            p.muted = muted;
        }
    });
    roster(shared, id);
}

/// Ends calls that got no keepAlive within the configured timeout (408/8537).
pub(crate) async fn expire_without_keepalive(shared: Weak<SimShared>) {
    loop {
        let Some(s) = shared.upgrade() else { return };
        let timeout = s.settings.keepalive_timeout;
        let expired: Vec<String> = lock(&s.calls.calls)
            .values()
            .filter(|c| c.state == "established" && c.last_keepalive.elapsed() > timeout)
            .map(|c| c.id.clone())
            .collect();
        for id in expired {
            terminate(&s, &id, (408, 8537, "Keep Alive timeout."));
        }
        let tick = (timeout / 4).clamp(Duration::from_millis(20), Duration::from_secs(5));
        drop(s);
        tokio::time::sleep(tick).await;
    }
}
