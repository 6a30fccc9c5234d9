//! The simulator's notifications against the documentation's examples
//! (crates/graph/fixtures): for every documented sequence, the same keys at every level and
//! the same `@odata.type`s, placeholder values aside.

use std::path::PathBuf;
use std::time::Duration;

use callhost::call::{Identity, Tone};
use callhost_simulator::{SimRecord, Simulator, SimulatorSettings};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(10);

/// Keys a documented example shows that the simulator does not send, and why that is fine.
const EXAMPLE_ONLY: &[(&str, &str)] = &[
    ("@odata.etag", "an opaque version tag; no bot reads it"),
    (
        "callbackUri",
        "an echo of the URI the bot gave; only some examples carry it",
    ),
    (
        "endpointType",
        "the participant's endpoint kind; one roster example gives it",
    ),
];

/// `@odata.type`s the examples use for the same thing.
const SAME_TYPE: &[(&str, &str)] = &[(
    // A roster participant's `info`: participantInfo in the join example,
    // invitationParticipantInfo in the participant-added one.
    "#microsoft.graph.invitationParticipantInfo",
    "#microsoft.graph.participantInfo",
)];

fn same_type(a: &Value, b: &Value) -> bool {
    a == b
        || SAME_TYPE.iter().any(|(x, y)| {
            (a.as_str(), b.as_str()) == (Some(x), Some(y))
                || (a.as_str(), b.as_str()) == (Some(y), Some(x))
        })
}

/// Keys the simulator sends that a given example lacks, each shown by other documented
/// payloads (README §4).
const DOCUMENTED_ELSEWHERE: &[(&str, &str)] = &[
    (
        "resource",
        "the legacy /app/ path; notification-participants-updated-added.json",
    ),
    (
        "@odata.type",
        "typed nested values; most examples type them, some do not",
    ),
    ("@odata.id", "most call and operation examples"),
    ("id", "the join and redirect examples name the resource"),
    ("tenantId", "incoming calls carry tenantId (§4.2, 1)"),
    ("callChainId", "incoming calls carry callChainId (§4.2, 1)"),
    (
        "myParticipantId",
        "incoming calls carry myParticipantId (§4.2, 1)",
    ),
    (
        "rosterSequenceNumber",
        "rosters are ordered by it (§4.2, 8)",
    ),
    ("resultInfo", "a call's end carries resultInfo (§4.2, 9)"),
    (
        "clientContext",
        "operations echo the clientContext they were started with",
    ),
    (
        "displayName",
        "identities name their party when it has a name",
    ),
    ("languageId", "the incoming-call example gives the caller's"),
    (
        "completionReason",
        "recordOperation reports why the recording stopped",
    ),
];

fn fixtures_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../crates/graph/fixtures");
    assert!(
        dir.is_dir(),
        "the Graph documentation fixtures are missing: expected them in {}; restore crates/graph/fixtures from the repository",
        dir.display()
    );
    dir
}

pub fn fixture(name: &str) -> Value {
    let path = fixtures_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("fixture {} is missing or unreadable: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("fixture {name} is not JSON: {e}"))
}

/// Where `actual` differs in shape from `example`.
fn shape_differences(example: &Value, actual: &Value, at: &str, out: &mut Vec<String>) {
    match (example, actual) {
        (Value::Object(e), Value::Object(a)) => {
            let find = |map: &serde_json::Map<String, Value>, key: &str| {
                // The transfer-failure example writes `subCode`; the schema says `subcode`.
                map.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(key))
                    .map(|(_, v)| v.clone())
            };
            for (key, value) in e {
                match find(a, key) {
                    Some(other) => {
                        if key == "@odata.type" && !same_type(value, &other) {
                            out.push(format!(
                                "{at}/@odata.type: example {value}, simulator {other}"
                            ));
                        }
                        shape_differences(value, &other, &format!("{at}/{key}"), out);
                    }
                    None if EXAMPLE_ONLY.iter().any(|(k, _)| k == key) => {}
                    None => out.push(format!("{at}/{key}: in the example, not sent")),
                }
            }
            for key in a.keys() {
                if find(e, key).is_none() && !DOCUMENTED_ELSEWHERE.iter().any(|(k, _)| k == key) {
                    out.push(format!("{at}/{key}: sent, not in the example"));
                }
            }
        }
        // Elements are compared as one: the union of their shapes (a roster lists users and
        // applications in any order).
        (Value::Array(e), Value::Array(a)) if !e.is_empty() && !a.is_empty() => {
            shape_differences(&union(e), &union(a), &format!("{at}[]"), out);
        }
        // Placeholder values ("<message>", "200" for 200, null client contexts) do not count.
        _ => {}
    }
}

/// Every key of every element, merged into one value (the first element's values win).
fn union(elements: &[Value]) -> Value {
    fn merge(into: &mut Value, from: &Value) {
        match (into, from) {
            (Value::Object(into), Value::Object(from)) => {
                for (key, value) in from {
                    match into.get_mut(key) {
                        Some(existing) => merge(existing, value),
                        None => {
                            into.insert(key.clone(), value.clone());
                        }
                    }
                }
            }
            (Value::Array(into), Value::Array(from)) => into.extend(from.iter().cloned()),
            _ => {}
        }
    }
    let mut merged = elements[0].clone();
    for element in &elements[1..] {
        merge(&mut merged, element);
    }
    merged
}

fn assert_shape(name: &str, actual: &Value) {
    let mut differences = Vec::new();
    shape_differences(&fixture(name), actual, "", &mut differences);
    assert!(
        differences.is_empty(),
        "the simulator's notification differs in shape from {name}:\n  {}\nsent: {actual:#}",
        differences.join("\n  ")
    );
}

/// The simulator, its Graph API, and a callback endpoint that accepts every notification.
struct Graph {
    sim: Simulator,
    http: reqwest::Client,
}

impl Graph {
    async fn start(media: Duration) -> Self {
        let sim = Simulator::start(SimulatorSettings {
            media_duration: media,
            ..SimulatorSettings::default()
        })
        .await
        .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accept = axum::Router::new().fallback(|| async { axum::http::StatusCode::ACCEPTED });
        tokio::spawn(async move { axum::serve(listener, accept).await.unwrap() });
        sim.set_callback_url(format!("http://{addr}/api/calls"));
        Self {
            sim,
            http: reqwest::Client::new(),
        }
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/communications/calls{path}", self.sim.graph_url());
        let mut request = self
            .http
            .request(method, &url)
            .bearer_auth("sim-access-token-1");
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        assert!(
            response.status().is_success(),
            "{url}: {}",
            response.status()
        );
        response.json().await.unwrap_or(Value::Null)
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    /// The first `count` notifications about `call`, once delivered.
    async fn notifications(&self, call: &str, count: usize) -> Vec<Value> {
        let delivered = || -> Vec<Value> {
            self.sim
                .records()
                .into_iter()
                .filter_map(|r| match r {
                    SimRecord::Notification { call_id, body, .. } if call_id == call => Some(body),
                    _ => None,
                })
                .collect()
        };
        self.sim
            .wait_until(WAIT, || (delivered().len() >= count).then(delivered))
            .await
            .unwrap_or_else(|| {
                panic!(
                    "fewer than {count} notifications for {call}: {:#?}",
                    delivered()
                )
            })
    }

    fn incoming(&self) -> String {
        let caller = Identity {
            display_name: Some("Test User".into()),
            ..Identity::user("8a34a46b-3d17-4adc-8dce-dc4e7d572698")
        };
        let bot = Identity {
            display_name: Some("Test BOT".into()),
            ..Identity::application(self.sim.settings().bot_app_id.clone())
        };
        self.sim.incoming_call(caller, bot)
    }

    /// An answered, established call.
    async fn established(&self) -> String {
        let call = self.incoming();
        self.post(
            &format!("/{call}/answer"),
            json!({ "acceptedModalities": ["audio"] }),
        )
        .await;
        self.notifications(&call, 3).await;
        call
    }
}

#[tokio::test]
async fn incoming_call_answered_rejected_and_redirected() {
    let graph = Graph::start(Duration::from_millis(20)).await;
    let call = graph.established().await;
    let sent = graph.notifications(&call, 3).await;
    assert_shape("notification-incoming-call.json", &sent[0]);
    assert_shape("notification-call-establishing.json", &sent[1]);
    assert_shape("notification-call-established.json", &sent[2]);

    let call = graph.incoming();
    graph
        .post(&format!("/{call}/reject"), json!({ "reason": "busy" }))
        .await;
    assert_shape(
        "notification-call-rejected-deleted.json",
        &graph.notifications(&call, 2).await[1],
    );

    let call = graph.incoming();
    let target = json!({ "identity": { "user": { "id": "u-2" } } });
    graph
        .post(&format!("/{call}/redirect"), json!({ "targets": [target] }))
        .await;
    assert_shape(
        "notification-redirect-terminated.json",
        &graph.notifications(&call, 2).await[1],
    );
}

#[tokio::test]
async fn transfers_that_succeed_and_fail() {
    let graph = Graph::start(Duration::from_millis(20)).await;
    let transfer = json!({ "transferTarget": { "identity": { "user": { "id": "u-3" } } } });
    let call = graph.established().await;
    graph
        .post(&format!("/{call}/transfer"), transfer.clone())
        .await;
    let sent = graph.notifications(&call, 6).await;
    assert_shape("notification-transfer-transferring.json", &sent[3]);
    assert_shape("notification-transfer-accepted.json", &sent[4]);
    assert_shape("notification-transfer-completed.json", &sent[5]);

    graph.sim.set_transfers_succeed(false);
    let call = graph.established().await;
    graph.post(&format!("/{call}/transfer"), transfer).await;
    assert_shape(
        "notification-transfer-failed.json",
        &graph.notifications(&call, 5).await[4],
    );
}

#[tokio::test]
async fn hang_up_by_the_bot_and_by_the_other_side() {
    let graph = Graph::start(Duration::from_millis(20)).await;
    let call = graph.established().await;
    graph
        .send(reqwest::Method::DELETE, &format!("/{call}"), None)
        .await;
    let sent = graph.notifications(&call, 5).await;
    assert_shape("notification-call-terminating.json", &sent[3]);
    assert_shape("notification-call-terminated.json", &sent[4]);

    let call = graph.established().await;
    graph.sim.remote_hang_up(&call);
    assert_shape(
        "notification-call-terminated.json",
        &graph.notifications(&call, 4).await[3],
    );
}

#[tokio::test]
async fn media_operations_complete_like_the_docs() {
    let graph = Graph::start(Duration::from_millis(20)).await;
    let call = graph.established().await;
    let prompt = json!({ "@odata.type": "#microsoft.graph.mediaPrompt", "mediaInfo": { "uri": "https://x/a.wav" } });
    let context = "d45324c1-fcb5-430a-902c-f20af696537c";
    graph
        .post(
            &format!("/{call}/playPrompt"),
            json!({ "prompts": [prompt], "clientContext": context }),
        )
        .await;
    assert_shape(
        "notification-playprompt-completed.json",
        &graph.notifications(&call, 4).await[3],
    );
    graph
        .post(
            &format!("/{call}/recordResponse"),
            json!({ "clientContext": context }),
        )
        .await;
    assert_shape(
        "notification-recordresponse-completed.json",
        &graph.notifications(&call, 5).await[4],
    );
    graph
        .post(
            &format!("/{call}/sendDtmfTones"),
            json!({ "tones": ["tone1"], "clientContext": context }),
        )
        .await;
    assert_shape(
        "notification-senddtmftones-completed.json",
        &graph.notifications(&call, 6).await[5],
    );
    graph
        .post(&format!("/{call}/subscribeToTone"), json!({}))
        .await;
    graph.sim.press(&call, Tone::Tone1);
    assert_shape(
        "notification-tone.json",
        &graph.notifications(&call, 7).await[6],
    );

    let slow = Graph::start(Duration::from_secs(3600)).await;
    let call = slow.established().await;
    slow.post(
        &format!("/{call}/recordResponse"),
        json!({ "clientContext": context }),
    )
    .await;
    slow.post(&format!("/{call}/cancelMediaProcessing"), json!({}))
        .await;
    assert_shape(
        "notification-recordresponse-canceled.json",
        &slow.notifications(&call, 4).await[3],
    );
}

#[tokio::test]
async fn meeting_join_and_roster() {
    let graph = Graph::start(Duration::from_millis(20)).await;
    let join = fixture("request-join-meeting-organizermeetinginfo-service-hosted.json");
    let call = graph.post("", join).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let sent = graph.notifications(&call, 3).await;
    assert_shape("notification-join-meeting-establishing.json", &sent[0]);
    assert_shape("notification-join-meeting-established.json", &sent[1]);
    assert_shape("notification-join-meeting-roster.json", &sent[2]);
    graph.sim.participant_joins(
        &call,
        Identity::application("278405a3-f568-4b3e-b684-009193463064"),
    );
    // The example shows the one participant who joined; the simulator sends the whole roster.
    let mut added = graph.notifications(&call, 4).await[3].clone();
    let roster = added["value"][0]["resourceData"]
        .as_array()
        .unwrap()
        .clone();
    added["value"][0]["resourceData"] = json!([roster.last().unwrap()]);
    assert_shape("notification-participants-updated-added.json", &added);
}
