//! What Graph's notifications become on the way in, through the real callback endpoint: ids in
//! any form, resources in any shape, operations Graph reports as already over, incoming calls
//! no plugin can take, and calls Graph created after their create request timed out.

use std::time::Duration;

use crate::support::bot::{BOT_APP_ID, Bot, plugin_table};
use callhost::call::Identity;
use callhost::runtime::StateScope;
use callhost_simulator::{Faults, SimulatorSettings};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(10);

fn caller() -> Identity {
    Identity::user("8a34a46b-3d17-4adc-8dce-dc4e7d572698")
}

fn quiet() -> SimulatorSettings {
    SimulatorSettings {
        bot_app_id: BOT_APP_ID.into(),
        ..SimulatorSettings::default()
    }
}

/// A service whose default route runs the recorder, which makes `actions` on incoming calls.
async fn recorder_bot(settings: SimulatorSettings, actions: Value, extra: &str) -> Bot {
    let plugin = plugin_table(
        "recorder",
        "recorder",
        &[("on", "incoming-call"), ("actions", &actions.to_string())],
    );
    Bot::start_with(
        settings,
        &format!("{extra}\n[[routes]]\nplugin = \"recorder\"\n[plugins.recorder.policy]\nallow = [\"*\"]\ntargets = [\"*\"]\n{plugin}"),
    )
    .await
}

/// The recorder's call state `key` of `call`, once `ready` accepts it.
async fn recorded(bot: &Bot, call: &str, key: &str, ready: impl Fn(&Value) -> bool) -> Value {
    let scope = StateScope::Call {
        plugin: "recorder".into(),
        call_id: call.into(),
    };
    let store = bot.dispatcher.state_store().clone();
    let found = bot
        .sim
        .wait_until(WAIT, || {
            let bytes = store.get(&scope, key)?;
            let value: Value = serde_json::from_slice(&bytes).ok()?;
            ready(&value).then_some(value)
        })
        .await;
    found.unwrap_or_else(|| {
        let now = store
            .get(&scope, key)
            .map(|b| String::from_utf8_lossy(&b).into_owned());
        panic!("call {call}: `{key}` never got there; it is {now:?}")
    })
}

fn event_kinds(events: &Value) -> Vec<String> {
    events
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["event"]["kind"].as_object()?.keys().next().cloned())
        .collect()
}

fn completions(events: &Value) -> Vec<Value> {
    events
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["event"]["kind"].get("operation-completed").cloned())
        .collect()
}

const ANSWER_AND_PLAY: &str = r#"[{"fn": "answer", "call": "$call", "modalities": ["audio"]},
    {"fn": "play-prompt", "call": "$call", "prompts": [{"uri": "https://media.example.com/a.wav"}], "client-context": "menu"}]"#;

/// A call answered with a prompt on a Graph with `settings` and `faults`: the service, the call, and the
/// plugin's two results.
async fn answer_and_play(settings: SimulatorSettings, faults: Faults) -> (Bot, String, Value) {
    let bot = recorder_bot(settings, serde_json::from_str(ANSWER_AND_PLAY).unwrap(), "").await;
    bot.sim.set_faults(faults);
    let call = bot
        .sim
        .incoming_call(caller(), Identity::application(BOT_APP_ID));
    let results = recorded(&bot, &call, "results", |r| {
        r.as_array().is_some_and(|r| r.len() == 2)
    })
    .await;
    (bot, call, results)
}

#[tokio::test]
async fn an_operation_graph_reports_failed_at_once_is_an_error_to_the_plugin() {
    let (_bot, _call, results) = answer_and_play(
        quiet(),
        Faults {
            fail_operations: 1,
            ..Faults::default()
        },
    )
    .await;
    let upstream = &results[1]["err"]["upstream"];
    assert_eq!(results[1]["fn"], "play-prompt");
    assert_eq!(upstream["code"], "500/9999", "{results}");
    assert_eq!(upstream["message"], "Injected by the simulator.");
}

#[tokio::test]
async fn an_operation_graph_reports_completed_at_once_gets_its_completion() {
    let (bot, call, results) = answer_and_play(
        quiet(),
        Faults {
            complete_operations_at_once: true,
            ..Faults::default()
        },
    )
    .await;
    let operation = results[1]["ok"]
        .as_str()
        .expect("an operation id")
        .to_string();
    let events = recorded(&bot, &call, "events", |e| !completions(e).is_empty()).await;
    let done = completions(&events);
    assert_eq!(done.len(), 1, "{events}");
    assert_eq!(done[0]["operation-id"], operation.as_str());
    assert_eq!(done[0]["kind"], "play-prompt");
    assert_eq!(done[0]["status"], "completed");
}

/// The other way Graph writes a GUID: upper case, no dashes.
fn other_form(guid: &str) -> String {
    guid.replace('-', "").to_ascii_uppercase()
}

#[tokio::test]
async fn one_call_and_one_operation_written_two_ways_are_one() {
    let settings = SimulatorSettings {
        media_duration: Duration::from_secs(3600),
        ..quiet()
    };
    let (bot, call, results) = answer_and_play(settings, Faults::default()).await;
    let operation = results[1]["ok"].as_str().unwrap().to_string();
    assert_ne!(
        other_form(&operation),
        operation,
        "the simulator's ids are GUIDs"
    );
    let (call_other, op_other) = (other_form(&call), other_form(&operation));
    bot.sim.send_raw(
        &call,
        json!({"value": [{
            "changeType": "deleted",
            "resourceUrl": format!("/communications/calls/{call_other}/operations/{op_other}"),
            "resourceData": {"id": op_other, "status": "completed", "clientContext": "menu",
                "resultInfo": {"code": 200, "subcode": 0}}
        }]}),
    );
    let events = recorded(&bot, &call, "events", |e| !completions(e).is_empty()).await;
    let done = completions(&events);
    assert_eq!(
        done[0]["operation-id"],
        operation.as_str(),
        "the form the plugin was given"
    );
    assert_eq!(
        done[0]["kind"], "play-prompt",
        "the kind of the operation the plugin started"
    );
    let last = events.as_array().unwrap().last().unwrap();
    assert_eq!(last["call"]["call-id"], call.as_str());
    assert_eq!(bot.dispatcher.calls().len(), 1, "one call, not two");
}

/// The incoming-call event the plugin gets for a `created` call notification with `data` as
/// its resourceData; asserts the call was decided all the same.
async fn incoming_in_shape(data: Option<Value>) -> Value {
    // The recorder makes no request: the route's fallback (reject busy) decides the call.
    let bot = recorder_bot(quiet(), json!([]), "").await;
    let call = "0f6a1f00-3b1e-4c5a-9d4e-1a2b3c4d5e6f".to_string();
    let mut entry =
        json!({"changeType": "created", "resourceUrl": format!("/communications/calls/{call}")});
    if let Some(data) = data {
        entry["resourceData"] = data;
    }
    bot.sim.send_raw(
        &call,
        json!({"@odata.type": "#microsoft.graph.commsNotifications", "value": [entry]}),
    );
    let reject = bot
        .sim
        .wait_for_request(WAIT, |r| r.path.ends_with(&format!("{call}/reject")))
        .await;
    assert!(
        reject.is_some(),
        "the fallback rejects the call; Graph got {:#?}",
        bot.sim.requests()
    );
    let events = recorded(&bot, &call, "events", |e| !event_kinds(e).is_empty()).await;
    assert_eq!(event_kinds(&events), ["incoming-call"]);
    events[0]["event"]["kind"]["incoming-call"].clone()
}

#[tokio::test]
async fn an_incoming_call_in_any_shape_reaches_the_plugin_and_is_decided() {
    let as_array = incoming_in_shape(Some(json!([{
        "@odata.type": "#microsoft.graph.call", "state": "incoming", "direction": "incoming",
        "source": {"identity": {"user": {"id": "caller-7", "displayName": "Seven"}}}
    }])))
    .await;
    assert_eq!(as_array["caller"]["id"], "caller-7");
    let without_data = incoming_in_shape(None).await;
    assert_eq!(without_data["caller"]["kind"], "unknown");
    let unparsable = incoming_in_shape(Some(json!({"state": 7, "source": "nobody"}))).await;
    assert_eq!(unparsable["caller"]["kind"], "unknown");
}

#[tokio::test]
async fn an_incoming_call_no_route_takes_is_rejected_busy_at_once() {
    let bot = Bot::start_with(quiet(), "").await;
    let call = bot
        .sim
        .incoming_call(caller(), Identity::application(BOT_APP_ID));
    let reject = bot
        .sim
        .wait_for_request(WAIT, |r| r.path.ends_with(&format!("{call}/reject")))
        .await
        .expect("the unrouted call is rejected");
    assert_eq!(reject.body.as_ref().unwrap()["reason"], "busy");
    assert_eq!(bot.dispatcher.metrics().unrouted, 1);
}

#[tokio::test]
async fn a_batched_roster_before_its_incoming_call_reaches_the_plugin_after_it() {
    let bot = recorder_bot(quiet(), json!([]), "").await;
    let call = "3c1e2d00-1b2a-4c3d-8e9f-0a1b2c3d4e5f";
    let url = format!("/communications/calls/{call}");
    bot.sim.send_raw(
        call,
        json!({"value": [
            {"changeType": "updated", "resourceUrl": format!("{url}/participants"),
             "resourceData": [{"@odata.type": "#microsoft.graph.participant", "id": "p1",
                "info": {"identity": {"user": {"id": "u1"}}}}]},
            {"changeType": "created", "resourceUrl": url,
             "resourceData": {"@odata.type": "#microsoft.graph.call", "state": "incoming",
                "source": {"identity": {"user": {"id": "u1"}}}}}
        ]}),
    );
    let events = recorded(&bot, call, "events", |e| event_kinds(e).len() == 2).await;
    assert_eq!(
        event_kinds(&events),
        ["incoming-call", "participants-changed"]
    );
}

#[tokio::test]
async fn a_call_graph_created_after_its_create_request_timed_out_is_hung_up() {
    let bot = recorder_bot(
        quiet(),
        json!([]),
        "[calls]\nkeepalive_interval_s = 900\norphan_hold_s = 0.3",
    )
    .await;
    // Graph answers after the client gave up (the request timeout is 3 s), but creates the call.
    bot.sim.set_faults(Faults {
        slow: Duration::from_millis(3500),
        ..Faults::default()
    });
    let url = format!("{}/admin/meetings/join", bot.admin_url);
    let body = json!({"joinMeetingId": "1234567890", "passcode": "abc", "tenantId": "t-1", "plugin": "recorder"});
    let response = bot.http.post(url).json(&body).send().await.unwrap();
    assert!(
        !response.status().is_success(),
        "the join timed out: {response:?}"
    );
    bot.sim.set_faults(Faults::default());
    let created = bot
        .sim
        .wait_until(WAIT, || bot.sim.call_ids().into_iter().next())
        .await
        .expect("Graph created the call anyway");
    let hang_up = bot
        .sim
        .wait_for_request(WAIT, |r| r.method == "DELETE" && r.path.ends_with(&created))
        .await;
    assert!(
        hang_up.is_some(),
        "the unowned call is hung up; the simulator did {:#?}, the service counted {:?}",
        bot.sim.records(),
        bot.dispatcher.metrics()
    );
    assert!(bot.dispatcher.calls().is_empty());
    assert!(
        bot.dispatcher
            .metrics()
            .dropped
            .get("orphan-expired")
            .is_some_and(|n| *n >= 1)
    );
}

#[tokio::test]
async fn dropped_notifications_are_counted_by_reason() {
    let bot = recorder_bot(
        quiet(),
        serde_json::from_str(r#"[{"fn": "answer", "call": "$call", "modalities": ["audio"]}]"#)
            .unwrap(),
        "",
    )
    .await;
    let call = bot
        .sim
        .incoming_call(caller(), Identity::application(BOT_APP_ID));
    recorded(&bot, &call, "events", |e| {
        event_kinds(e).contains(&"state-changed".to_string())
    })
    .await;
    let tone = |sequence: i64| {
        json!({"value": [{"changeType": "updated", "resourceUrl": format!("/communications/calls/{call}"),
            "resourceData": {"toneInfo": {"sequenceId": sequence, "tone": "tone1"}}}]})
    };
    bot.sim.send_raw(&call, tone(50));
    bot.sim.send_raw(&call, tone(49));
    bot.sim.send_raw(
        &call,
        json!({"value": [{"changeType": "updated", "resourceUrl": "/communications/calls"}]}),
    );
    let counted = bot
        .sim
        .wait_until(WAIT, || {
            let dropped = bot.dispatcher.metrics().dropped;
            (dropped.get("stale-tone") == Some(&1) && dropped.get("no-call") == Some(&1))
                .then_some(())
        })
        .await;
    assert!(counted.is_some(), "{:?}", bot.dispatcher.metrics().dropped);
    let metrics = bot.admin_get("/admin/metrics").await;
    assert_eq!(metrics["dropped"]["stale-tone"], 1);
}
