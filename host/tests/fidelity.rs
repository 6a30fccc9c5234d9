//! Fidelity to Graph as it really talks: every notification payload of the docs, transformed by
//! each of Graph's known inconsistencies (see `fidelity/traps.rs`), is sent signed through the
//! callback endpoint of a running service, and the plugin must receive the same events as for
//! the untransformed payload. Each untransformed payload must also give the event its name
//! says. Sequences from the docs (repeated transfers, holds, mutes; a batch out of order) go
//! through the same path.
//!
//! Every combination runs, then one line per failing combination is printed and the test
//! fails. `FIDELITY_FILTER=<substring>` runs the combinations whose label (`fixture × trap`, or
//! the sequence's name) contains it; `FIDELITY_DEBUG=1` also prints each transformed body.

#[path = "fidelity/traps.rs"]
mod traps;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::support::bot::{BOT_APP_ID, Bot, plugin_table};
use callhost::runtime::state_store::{StateScope, StateStore};
use callhost_simulator::IssueClaims;
use callhost_simulator::{SIM_TENANT, SimRecord, SimulatorSettings};
use serde_json::{Value, json};
use traps::{Context, Delivery, TRAPS, guid_hex, replace_guid};

const PLUGIN: &str = "recorder";
const WAIT: Duration = Duration::from_secs(30);
/// The setup of every call that is not itself an incoming call under test.
const INCOMING: &str = "notification-incoming-call.json";

fn fixtures_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/graph/fixtures")
}

fn read_fixture(name: &str) -> Value {
    let path = fixtures_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn filter() -> Option<String> {
    std::env::var("FIDELITY_FILTER")
        .ok()
        .filter(|f| !f.is_empty())
}

fn selected(label: &str) -> bool {
    filter().is_none_or(|f| label.contains(&f))
}

/// The C# SDK's roster event arguments, as the wire notification they came from: the added
/// participants as an `updated` roster, the removed ones as a `deleted` one.
fn sdk_capture_as_notification(capture: &Value) -> Value {
    let added = capture["AddedResources"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let (resources, change) = if added.is_empty() {
        (
            capture["RemovedResources"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
            "deleted",
        )
    } else {
        (added, "updated")
    };
    let path = resources[0]["ResourcePath"]
        .as_str()
        .expect("a ResourcePath");
    let call = path
        .split("calls/")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .expect("a call id in ResourcePath");
    let data: Vec<Value> = resources.iter().map(|r| r["Resource"].clone()).collect();
    json!({
        "@odata.type": "#microsoft.graph.commsNotifications",
        "value": [{
            "@odata.type": "#microsoft.graph.commsNotification",
            "changeType": change,
            "resourceUrl": format!("/communications/calls/{call}/participants"),
            "resourceData": data,
        }]
    })
}

/// A docs payload with the call id it names.
struct Fixture {
    name: String,
    body: Value,
    call_id: String,
}

impl Fixture {
    fn load(name: &str) -> Fixture {
        let raw = read_fixture(name);
        let body = if name.starts_with("sdk-captured-") {
            sdk_capture_as_notification(&raw)
        } else {
            raw
        };
        let url = body["value"][0]
            .get("resourceUrl")
            .or_else(|| body["value"][0].get("resource"))
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("{name}: no resource URL"));
        let call_id = url
            .split("calls/")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_else(|| panic!("{name}: no call in {url}"))
            .to_string();
        Fixture {
            name: name.to_string(),
            body,
            call_id,
        }
    }

    /// The payload naming `call_id` (lower-case, dashed) instead of its own call.
    fn for_call(&self, call_id: &str) -> Value {
        match guid_hex(&self.call_id) {
            Some(hex) => replace_guid(&self.body, &hex, call_id),
            None => {
                let text = self.body.to_string().replace(&self.call_id, call_id);
                serde_json::from_str(&text).unwrap()
            }
        }
    }

    fn is_incoming_call(&self) -> bool {
        self.name.starts_with("notification-incoming-call")
    }

    /// The event kind the fixture's name promises.
    fn expected_kind(&self) -> &'static str {
        let name = self.name.as_str();
        let has = |words: &[&str]| words.iter().any(|w| name.contains(w));
        if self.is_incoming_call() {
            "incoming-call"
        } else if has(&["-tone"]) {
            "tone-received"
        } else if has(&["content-sharing"]) {
            "other"
        } else if has(&["participants", "roster"]) {
            "participants-changed"
        } else if has(&[
            "largegalleryview",
            "operation",
            "playprompt",
            "recordresponse",
            "senddtmftones",
            "holdmusic",
        ]) {
            "operation-completed"
        } else {
            "state-changed"
        }
    }
}

fn all_fixtures() -> Vec<Fixture> {
    let mut names: Vec<String> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| {
            n.ends_with(".json")
                && (n.starts_with("notification-") || n.starts_with("sdk-captured-"))
        })
        .collect();
    names.sort();
    names.iter().map(|n| Fixture::load(n)).collect()
}

fn fresh_call_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// One callback body and how it is delivered.
struct Post {
    body: Value,
    delivery: Delivery,
}

impl Post {
    fn once(body: Value) -> Post {
        Post {
            body,
            delivery: Delivery::Once,
        }
    }
}

/// A running service whose plugin records every event per call in plugin state.
struct Harness {
    bot: Bot,
    /// Bodies handed to the simulator so far.
    sent: usize,
}

impl Harness {
    async fn start() -> Harness {
        let answer = json!([{"fn": "answer", "call": "$call", "modalities": ["audio"]}]);
        let plugin = plugin_table(
            PLUGIN,
            PLUGIN,
            &[
                ("on", "incoming-call"),
                ("actions", &answer.to_string()),
                ("keep-events", "plugin"),
            ],
        );
        let settings = SimulatorSettings {
            bot_app_id: BOT_APP_ID.into(),
            emit_notifications: false,
            notification_delay: Duration::ZERO,
            ..SimulatorSettings::default()
        };
        let bot = Bot::start_with(
            settings,
            &format!("[[routes]]\nplugin = \"{PLUGIN}\"\n{plugin}"),
        )
        .await;
        Harness { bot, sent: 0 }
    }

    /// Sends `posts` for one call, in order. Incoming calls are made known to the simulated
    /// Graph first, so that the plugin's answer succeeds. A call with a body delivered twice
    /// under one message id has all its bodies posted here, in order, each with a message id;
    /// the others go through the simulator's queue.
    async fn send(&mut self, posts: Vec<Post>) {
        let direct = posts
            .iter()
            .any(|p| p.delivery == Delivery::TwiceWithOneMessageId);
        for post in posts {
            self.bot.sim.learn(&post.body);
            if !direct {
                self.bot.sim.send_raw("", post.body);
                self.sent += 1;
                continue;
            }
            let copies = match post.delivery {
                Delivery::Once => 1,
                Delivery::TwiceWithOneMessageId => 2,
            };
            let message_id = uuid::Uuid::new_v4().to_string();
            for _ in 0..copies {
                self.post_with_message_id(&post.body, &message_id).await;
            }
        }
    }

    /// Posts a body signed with the simulator's key, with an `X-Microsoft-Skype-Message-ID`.
    async fn post_with_message_id(&self, body: &Value, message_id: &str) {
        let token = self
            .bot
            .sim
            .issuer()
            .issue(IssueClaims::graph_callback(BOT_APP_ID, SIM_TENANT));
        let response = self
            .bot
            .http
            .post(&self.bot.callback_url)
            .bearer_auth(token)
            .header("User-Agent", "Microsoft-Skype/3.0,(Calling/1.0)")
            .header("X-Microsoft-Skype-Message-ID", message_id)
            .json(body)
            .send()
            .await
            .expect("the callback endpoint answers");
        assert!(
            response.status().is_success(),
            "callback answered {}",
            response.status()
        );
    }

    /// Waits until the simulator delivered everything and the service handled it.
    async fn settle(&self) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let delivered = self
                .bot
                .sim
                .records()
                .iter()
                .filter(|r| matches!(r, SimRecord::Notification { .. }))
                .count();
            if delivered >= self.sent {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the simulator delivered {delivered} of {} bodies",
                self.sent
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            self.bot.dispatcher.drain(WAIT).await,
            "the service did not handle every notification in time"
        );
    }

    /// The events the plugin received, by call (its GUID's hex digits when it is one), each
    /// reduced to what must not depend on the payload's spelling: its kind with its payload,
    /// and its change type.
    fn events(&self) -> BTreeMap<String, Vec<Value>> {
        let store: &Arc<dyn StateStore> = self.bot.dispatcher.state_store();
        let scope = StateScope::Plugin {
            plugin: PLUGIN.into(),
        };
        let mut keys: Vec<String> = store
            .keys(&scope)
            .into_iter()
            .filter(|k| k.starts_with("events/"))
            .collect();
        // The dashed spelling (the one calls are set up with) first.
        keys.sort_by_key(|k| (!k.contains('-'), k.clone()));
        let mut events: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for key in keys {
            let call = &key["events/".len()..];
            let call = guid_hex(call).unwrap_or_else(|| call.to_string());
            let entries: Vec<Value> =
                serde_json::from_slice(&store.get(&scope, &key).unwrap()).unwrap();
            events
                .entry(call)
                .or_default()
                .extend(entries.iter().map(|e| essence(&e["event"])));
        }
        events
    }
}

/// An event without `raw` and `resource-url`; operation ids by their GUID digits, resource
/// types without `#` and case.
fn essence(event: &Value) -> Value {
    let mut kind = event["kind"].clone();
    traps::walk_objects(&mut kind, &mut |map: &mut serde_json::Map<
        String,
        Value,
    >| {
        if let Some(Value::String(id)) = map.get_mut("operation-id")
            && let Some(hex) = guid_hex(id)
        {
            *id = hex;
        }
        if let Some(Value::String(t)) = map.get_mut("resource-type") {
            *t = t.trim_start_matches('#').to_lowercase();
        }
    });
    json!({ "kind": kind, "change-type": event["change-type"] })
}

fn kind_name(event: &Value) -> String {
    event["kind"]
        .as_object()
        .and_then(|k| k.keys().next().cloned())
        .unwrap_or_else(|| "?".into())
}

fn summary(events: &[Value]) -> String {
    let kinds: Vec<String> = events
        .iter()
        .map(|e| {
            format!(
                "{}/{}",
                kind_name(e),
                e["change-type"].as_str().unwrap_or("?")
            )
        })
        .collect();
    format!("[{}]", kinds.join(", "))
}

fn clip(value: &Value) -> String {
    let text = value.to_string();
    if text.len() > 400 {
        format!(
            "{}…",
            &text[..text.char_indices().nth(400).map_or(text.len(), |(i, _)| i)]
        )
    } else {
        text
    }
}

/// `expected` vs `got`, in one line: the kinds, and the first event that differs.
fn difference(expected: &[Value], got: &[Value]) -> String {
    let first = (0..expected.len().max(got.len()))
        .find(|&i| expected.get(i) != got.get(i))
        .map(|i| {
            format!(
                "; event {i}: expected {} got {}",
                expected.get(i).map_or("nothing".into(), clip),
                got.get(i).map_or("nothing".into(), clip)
            )
        })
        .unwrap_or_default();
    format!("expected {} got {}{first}", summary(expected), summary(got))
}

/// One fixture × trap (or the fixture alone, for its baseline).
struct Combination {
    fixture: usize,
    trap: Option<usize>,
    call_id: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_trap_on_every_notification_kind() {
    let fixtures = all_fixtures();
    let incoming = Fixture::load(INCOMING);
    let mut harness = Harness::start().await;
    let mut combinations = Vec::new();
    let mut not_applicable = Vec::new();
    for (f, fixture) in fixtures.iter().enumerate() {
        let labels: Vec<usize> = (0..TRAPS.len())
            .filter(|&t| selected(&format!("{} × {}", fixture.name, TRAPS[t].name)))
            .collect();
        if labels.is_empty() && !selected(&fixture.name) {
            continue;
        }
        for trap in std::iter::once(None).chain(labels.into_iter().map(Some)) {
            let call_id = fresh_call_id();
            let body = fixture.for_call(&call_id);
            let mut posts = Vec::new();
            if !fixture.is_incoming_call() {
                posts.push(Post::once(incoming.for_call(&call_id)));
            }
            match trap {
                None => posts.push(Post::once(body)),
                Some(t) => {
                    let trap = &TRAPS[t];
                    let other_call = incoming.for_call(&fresh_call_id())["value"][0].clone();
                    let context = Context {
                        call_id: call_id.clone(),
                        other_call,
                    };
                    let transformed = (trap.transform)(&body, &context);
                    if transformed == body && trap.delivery == Delivery::Once {
                        not_applicable.push(format!("{} × {}", fixture.name, trap.name));
                        continue;
                    }
                    if std::env::var("FIDELITY_DEBUG").is_ok() {
                        println!("DEBUG {} × {}: {}", fixture.name, trap.name, transformed);
                    }
                    posts.push(Post {
                        body: transformed,
                        delivery: trap.delivery,
                    });
                }
            }
            harness.send(posts).await;
            combinations.push(Combination {
                fixture: f,
                trap,
                call_id,
            });
        }
    }
    harness.settle().await;
    let events = harness.events();
    let of = |call_id: &str| {
        events
            .get(&guid_hex(call_id).unwrap())
            .cloned()
            .unwrap_or_default()
    };

    let mut failures = Vec::new();
    let mut baselines: BTreeMap<usize, Vec<Value>> = BTreeMap::new();
    for c in combinations.iter().filter(|c| c.trap.is_none()) {
        let fixture = &fixtures[c.fixture];
        let got = of(&c.call_id);
        let (setup, rest) = if fixture.is_incoming_call() {
            (None, &got[..])
        } else {
            (got.first(), got.get(1..).unwrap_or(&[]))
        };
        let expected = fixture.expected_kind();
        if setup.is_some_and(|e| kind_name(e) != "incoming-call") || got.is_empty() {
            failures.push(format!(
                "{} × baseline: expected the set-up incoming-call first, got {}",
                fixture.name,
                summary(&got)
            ));
        } else if !rest.iter().any(|e| kind_name(e) == expected) {
            failures.push(format!(
                "{} × baseline: expected a {expected} event, got {}",
                fixture.name,
                summary(&got)
            ));
        }
        baselines.insert(c.fixture, got);
    }
    let mut compared = 0;
    for c in &combinations {
        let Some(t) = c.trap else { continue };
        compared += 1;
        let fixture = &fixtures[c.fixture];
        let expected = &baselines[&c.fixture];
        let got = of(&c.call_id);
        if &got != expected {
            failures.push(format!(
                "{} × {}: {}",
                fixture.name,
                TRAPS[t].name,
                difference(expected, &got)
            ));
        }
    }
    println!(
        "{} fixtures, {} traps: {compared} combinations compared with their baseline, {} not applicable (the trap leaves the payload as it is)",
        baselines.len(),
        TRAPS.len(),
        not_applicable.len()
    );
    if !failures.is_empty() {
        for line in &failures {
            println!("FAIL {line}");
        }
        panic!(
            "{} of {} combinations (and baselines) differ; see the FAIL lines",
            failures.len(),
            compared + baselines.len()
        );
    }
}

/// A docs sequence: bodies for one call and a check of the events the plugin got.
struct Sequence {
    name: &'static str,
    bodies: Vec<Value>,
    check: fn(&[Value]) -> Result<(), String>,
}

fn states(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| e["kind"]["state-changed"]["state"].as_str())
        .map(String::from)
        .collect()
}

fn expect_states(events: &[Value], expected: &[&str]) -> Result<(), String> {
    if states(events) == expected {
        Ok(())
    } else {
        Err(format!(
            "expected the state changes {expected:?}, got {:?} in {}",
            states(events),
            summary(events)
        ))
    }
}

/// A body with more (or other) `resourceData` fields.
fn with_data(body: &Value, fields: Value) -> Value {
    let mut body = body.clone();
    if let (Some(data), Value::Object(fields)) =
        (body["value"][0]["resourceData"].as_object_mut(), fields)
    {
        data.extend(fields);
    }
    body
}

fn sequences(call_id: &dyn Fn() -> String) -> Vec<Sequence> {
    let load = |name: &str, call: &str| Fixture::load(name).for_call(call);
    let mut all = Vec::new();

    let call = call_id();
    let established = load("notification-call-established.json", &call);
    let transferring = load("notification-transfer-transferring.json", &call);
    let failed = load("notification-transfer-failed.json", &call);
    all.push(Sequence {
        name: "transfer declined twice",
        bodies: vec![
            load(INCOMING, &call),
            established.clone(),
            transferring.clone(),
            failed.clone(),
            transferring,
            failed,
        ],
        check: |events| {
            expect_states(
                events,
                &[
                    "established",
                    "transferring",
                    "established",
                    "transferring",
                    "established",
                ],
            )?;
            let results: Vec<&Value> = events
                .iter()
                .filter_map(|e| e["kind"]["state-changed"]["result"].as_object().map(|_| e))
                .collect();
            let declined = results
                .iter()
                .filter(|e| {
                    let r = &e["kind"]["state-changed"]["result"];
                    r["code"] == 500 && r["subcode"] == 7000
                })
                .count();
            if declined == 2 {
                Ok(())
            } else {
                Err(format!(
                    "expected two returns to established with 500/7000, got {declined}"
                ))
            }
        },
    });

    let call = call_id();
    let established = load("notification-call-established.json", &call);
    let hold = with_data(&established, json!({ "state": "hold" }));
    all.push(Sequence {
        name: "hold and unhold twice",
        bodies: vec![
            load(INCOMING, &call),
            established.clone(),
            hold.clone(),
            established.clone(),
            hold,
            established,
        ],
        check: |events| {
            expect_states(
                events,
                &["established", "hold", "established", "hold", "established"],
            )
        },
    });

    let call = call_id();
    let muted = load(
        "notification-participants-updated-participant-muted.json",
        &call,
    );
    let unmuted = load("notification-participants-updated-unmuted.json", &call);
    all.push(Sequence {
        name: "participant muted, unmuted, muted",
        bodies: vec![
            load(INCOMING, &call),
            load("notification-call-established.json", &call),
            unmuted.clone(),
            muted.clone(),
            unmuted,
            muted,
        ],
        check: |events| {
            let rosters: Vec<&Value> = events
                .iter()
                .filter_map(|e| e["kind"].get("participants-changed"))
                .collect();
            let updated: Vec<Option<bool>> = rosters
                .iter()
                .skip(1)
                .map(|r| {
                    let list = r["updated"].as_array()?;
                    (list.len() == 1).then(|| list[0]["is-muted"].as_bool())?
                })
                .collect();
            let joined = rosters
                .first()
                .and_then(|r| r["joined"].as_array())
                .map_or(0, Vec::len);
            if joined == 1 && updated == [Some(true), Some(false), Some(true)] {
                Ok(())
            } else {
                Err(format!(
                    "expected a join then three `updated` (muted, unmuted, muted), got {} rosters: {}",
                    rosters.len(),
                    rosters.iter().map(|r| clip(r)).collect::<Vec<_>>().join(" ")
                ))
            }
        },
    });

    let call = call_id();
    let roster = load("notification-join-meeting-roster.json", &call);
    let mut batch = load(INCOMING, &call);
    let incoming_entry = batch["value"][0].clone();
    batch["value"] = json!([roster["value"][0].clone(), incoming_entry]);
    all.push(Sequence {
        name: "incoming call batched after its roster",
        bodies: vec![batch],
        check: |events| {
            let kinds: Vec<String> = events.iter().map(kind_name).collect();
            if kinds.first().map(String::as_str) == Some("incoming-call")
                && kinds.iter().any(|k| k == "participants-changed")
            {
                Ok(())
            } else {
                Err(format!(
                    "expected incoming-call first, then participants-changed, got {}",
                    summary(events)
                ))
            }
        },
    });

    let call = call_id();
    let established = load("notification-call-established.json", &call);
    let chat = Fixture::load("notification-join-meeting-established.json").body["value"][0]
        ["resourceData"]["chatInfo"]
        .clone();
    all.push(Sequence {
        name: "several established updates",
        bodies: vec![
            load(INCOMING, &call),
            established.clone(),
            with_data(&established, json!({ "mediaState": { "audio": "active" } })),
            with_data(&established, json!({ "chatInfo": chat })),
        ],
        check: |events| expect_states(events, &["established"]),
    });

    let call = call_id();
    all.push(Sequence {
        name: "establishing after established",
        bodies: vec![
            load(INCOMING, &call),
            load("notification-call-established.json", &call),
            load("notification-call-establishing.json", &call),
        ],
        check: |events| expect_states(events, &["established"]),
    });

    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequences_from_the_docs() {
    let mut harness = Harness::start().await;
    let ids = std::sync::Mutex::new(Vec::new());
    let fresh = || {
        let id = fresh_call_id();
        ids.lock().unwrap().push(id.clone());
        id
    };
    let all: Vec<Sequence> = sequences(&fresh)
        .into_iter()
        .filter(|s| selected(s.name))
        .collect();
    let ids = ids.into_inner().unwrap();
    let mut runs = Vec::new();
    for sequence in &all {
        let call = sequence.bodies[0]["value"]
            .as_array()
            .and_then(|v| v.last())
            .and_then(|n| n["resourceUrl"].as_str())
            .and_then(|url| url.split("calls/").nth(1))
            .and_then(|rest| rest.split('/').next())
            .map(String::from)
            .expect("a call id");
        assert!(ids.contains(&call));
        harness
            .send(sequence.bodies.iter().cloned().map(Post::once).collect())
            .await;
        runs.push((sequence, call));
    }
    harness.settle().await;
    let events = harness.events();
    let failures: Vec<String> = runs
        .iter()
        .filter_map(|(sequence, call)| {
            let got = events
                .get(&guid_hex(call).unwrap())
                .cloned()
                .unwrap_or_default();
            (sequence.check)(&got)
                .err()
                .map(|why| format!("{}: {why}", sequence.name))
        })
        .collect();
    for line in &failures {
        println!("FAIL {line}");
    }
    assert!(
        failures.is_empty(),
        "{} of {} sequences failed; see the FAIL lines",
        failures.len(),
        runs.len()
    );
}
