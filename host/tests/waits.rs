//! Workflows that wait, through the whole service and the simulated Graph: timers fire in
//! order, once, and not after they were replaced or cancelled or their call ended; tone
//! collection runs its prompt, timeouts, tries and terminators and ends in one
//! `tones-collected` event, with the call's tones kept from the workflow meanwhile.
//!
//! The workflows are the recorder test plugin: it keeps every event it gets (in plugin state,
//! so they outlive the call) and makes the requests its `actions` config lists.

use std::time::Duration;

use crate::support::bot::{BOT_APP_ID, Bot, plugin_table};
use callhost::call::{Identity, Tone};
use callhost::runtime::StateScope;
use callhost_simulator::SimulatorSettings;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(15);

/// A recorder that keeps its events and makes `actions` on each `on` event.
fn recorder(id: &str, on: &str, actions: Value) -> String {
    let settings = [
        ("on", on),
        ("actions", &actions.to_string()),
        ("keep-events", "plugin"),
    ];
    format!(
        "[[routes]]\nplugin = \"{id}\"\nmatch = {{ callee = \"application:{id}\" }}\n{}\n[plugins.{id}.policy]\nallow = [\"*\"]\n",
        plugin_table(id, "recorder", &settings)
    )
}

fn call_to(bot: &Bot, plugin: &str) -> String {
    let caller = Identity::user("8a34a46b-3d17-4adc-8dce-dc4e7d572698");
    bot.sim
        .incoming_call(caller, Identity::application(plugin.to_string()))
}

/// The events the recorder `plugin` got for `call`, as `(kind, payload)`.
fn events(bot: &Bot, plugin: &str, call: &str) -> Vec<(String, Value)> {
    let scope = StateScope::Plugin {
        plugin: plugin.into(),
    };
    let Some(kept) = bot
        .dispatcher
        .state_store()
        .get(&scope, &format!("events/{call}"))
    else {
        return Vec::new();
    };
    let kept: Vec<Value> = serde_json::from_slice(&kept).expect("the recorder keeps JSON");
    kept.into_iter()
        .filter_map(|entry| {
            let (kind, payload) = entry["event"]["kind"].as_object()?.iter().next()?;
            Some((kind.clone(), payload.clone()))
        })
        .collect()
}

fn of_kind(events: &[(String, Value)], kind: &str) -> Vec<Value> {
    events
        .iter()
        .filter(|(k, _)| k == kind)
        .map(|(_, payload)| payload.clone())
        .collect()
}

/// Waits until `done` holds of the plugin's events for the call.
async fn until(
    bot: &Bot,
    plugin: &str,
    call: &str,
    what: &str,
    done: impl Fn(&[(String, Value)]) -> bool,
) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let seen = events(bot, plugin, call);
        if done(&seen) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {WAIT:?}; events: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn answer() -> Value {
    json!({"fn": "answer", "call": "$call", "modalities": ["audio"]})
}

fn set_timer(name: &str, delay_ms: u32, payload: Option<&str>) -> Value {
    json!({"fn": "set-timer", "call": "$call", "name": name, "delay-ms": delay_ms, "payload": payload})
}

#[tokio::test]
async fn timers_fire_in_order_once_and_replaced_or_cancelled_ones_do_not() {
    let actions = json!([
        answer(),
        set_timer("late", 600, Some("second")),
        set_timer("soon", 150, Some("first try")),
        // The same name replaces it: this one fires, the first never does.
        set_timer("soon", 300, Some("first")),
        set_timer("never", 200, None),
        {"fn": "cancel-timer", "call": "$call", "name": "never"},
        // Refused: the name is the host's, and the delay is too short.
        set_timer("#mine", 500, None),
        set_timer("quick", 5, None),
    ]);
    let bot = Bot::start(&recorder("timed", "incoming-call", actions)).await;
    let call = call_to(&bot, "timed");
    until(&bot, "timed", &call, "two timers fired", |e| {
        of_kind(e, "timer-fired").len() >= 2
    })
    .await;
    // Time for a stale or cancelled timer to fire, if one could.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let seen = events(&bot, "timed", &call);
    let fired = of_kind(&seen, "timer-fired");
    let names: Vec<(&str, &str)> = fired
        .iter()
        .map(|t| (t["name"].as_str().unwrap(), t["payload"].as_str().unwrap()))
        .collect();
    assert_eq!(
        names,
        vec![("soon", "first"), ("late", "second")],
        "{seen:?}"
    );
    assert!(
        fired.iter().all(|t| t["late-ms"].as_u64().unwrap() < 1000),
        "{fired:?}"
    );

    let timeline = bot
        .admin_get(&format!("/admin/calls/{call}/timeline"))
        .await;
    let timer_rows: Vec<String> = timeline["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "timer")
        .map(|e| {
            format!(
                "{} {}",
                e["timer"].as_str().unwrap(),
                e["change"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        timer_rows,
        [
            "late set",
            "soon set",
            "soon set",
            "never set",
            "never cancelled",
            "soon fired",
            "late fired"
        ],
        "{timeline}"
    );
    let scope = StateScope::Call {
        plugin: "timed".into(),
        call_id: call.as_str().into(),
    };
    let results = bot.dispatcher.state_store().get(&scope, "results").unwrap();
    let results: Vec<Value> = serde_json::from_slice(&results).unwrap();
    let refusals: Vec<&Value> = results.iter().filter(|r| r.get("err").is_some()).collect();
    assert_eq!(refusals.len(), 2, "{results:?}");
    assert!(
        refusals[0]["err"]["invalid-argument"]
            .as_str()
            .unwrap()
            .contains("belong to callhost")
    );
    assert!(
        refusals[1]["err"]["invalid-argument"]
            .as_str()
            .unwrap()
            .contains("100 ms to")
    );
}

#[tokio::test]
async fn a_calls_timers_are_gone_when_it_ends() {
    let actions = json!([answer(), set_timer("after-the-end", 700, None)]);
    let bot = Bot::start(&recorder("ending", "incoming-call", actions)).await;
    let call = call_to(&bot, "ending");
    until(&bot, "ending", &call, "the call established", |e| {
        e.iter()
            .any(|(k, p)| k == "state-changed" && p["state"] == "established")
    })
    .await;
    bot.sim.remote_hang_up(&call);
    assert!(bot.wait_until_no_calls(WAIT).await, "the call ended");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let seen = events(&bot, "ending", &call);
    assert!(of_kind(&seen, "timer-fired").is_empty(), "{seen:?}");
}

fn collect(prompts: bool, tries: u32) -> Value {
    let prompts = match prompts {
        true => json!([{"uri": "https://media.example.com/pin.wav"}]),
        false => json!([]),
    };
    json!({
        "fn": "collect-tones", "call": "$call", "prompts": prompts, "max-digits": 4,
        "first-digit-timeout-ms": 400, "inter-digit-timeout-ms": 300,
        "terminators": ["pound"], "tries": tries, "client-context": "pin",
    })
}

/// One recorder per case, each collecting on its own route, asked for at the incoming call:
/// the collection begins once the call is established.
async fn collecting_bot(settings: SimulatorSettings, cases: &[(&str, Value)]) -> Bot {
    let mut config = String::new();
    for (id, collect) in cases {
        config.push_str(&recorder(id, "incoming-call", json!([answer(), collect])));
    }
    Bot::start_with(
        SimulatorSettings {
            bot_app_id: BOT_APP_ID.into(),
            ..settings
        },
        &config,
    )
    .await
}

fn collected(bot: &Bot, plugin: &str, call: &str) -> Vec<Value> {
    of_kind(&events(bot, plugin, call), "tones-collected")
}

async fn until_collected(bot: &Bot, plugin: &str, call: &str) -> Value {
    until(bot, plugin, call, "the collection ended", |e| {
        !of_kind(e, "tones-collected").is_empty()
    })
    .await;
    collected(bot, plugin, call).remove(0)
}

/// Requests of `action` Graph got on the call.
fn requests(bot: &Bot, call: &str, action: &str) -> usize {
    let path = format!("/v1.0/communications/calls/{call}/{action}");
    bot.sim.requests().iter().filter(|r| r.path == path).count()
}

#[tokio::test]
async fn a_collection_ends_with_the_digits_and_why() {
    let bot = collecting_bot(
        SimulatorSettings::default(),
        &[
            ("terminated", collect(true, 1)),
            ("complete", collect(false, 1)),
            ("between", collect(false, 1)),
            ("silent", collect(true, 2)),
        ],
    )
    .await;
    let calls: Vec<(&str, String)> = ["terminated", "complete", "between", "silent"]
        .into_iter()
        .map(|id| (id, call_to(&bot, id)))
        .collect();
    let call = |id: &str| calls.iter().find(|(c, _)| *c == id).unwrap().1.clone();
    let deadline = tokio::time::Instant::now() + WAIT;
    while ["terminated", "complete", "between"]
        .iter()
        .any(|id| requests(&bot, &call(id), "subscribeToTone") == 0)
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no tone subscription"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The prompt has played (30 ms in the simulator) before the keys come.
    tokio::time::sleep(Duration::from_millis(100)).await;
    for tone in [Tone::Tone1, Tone::Tone2, Tone::Pound] {
        bot.sim.press(&call("terminated"), tone);
    }
    for tone in [Tone::Tone4, Tone::Tone3, Tone::Tone2, Tone::Tone1] {
        bot.sim.press(&call("complete"), tone);
    }
    bot.sim.press(&call("between"), Tone::Star);

    let ended = until_collected(&bot, "terminated", &call("terminated")).await;
    assert_eq!(
        (ended["digits"].as_str(), ended["reason"].as_str()),
        (Some("12"), Some("terminator"))
    );
    assert_eq!(ended["terminator"], "pound");
    assert_eq!(ended["client-context"], "pin");

    let ended = until_collected(&bot, "complete", &call("complete")).await;
    assert_eq!(
        (ended["digits"].as_str(), ended["reason"].as_str()),
        (Some("4321"), Some("complete"))
    );

    let ended = until_collected(&bot, "between", &call("between")).await;
    assert_eq!(
        (ended["digits"].as_str(), ended["reason"].as_str()),
        (Some("*"), Some("inter-digit-timeout"))
    );

    let ended = until_collected(&bot, "silent", &call("silent")).await;
    assert_eq!(
        (ended["digits"].as_str(), ended["reason"].as_str()),
        (Some(""), Some("tries-exhausted"))
    );
    assert_eq!(ended["tries"], 2);
    assert_eq!(
        requests(&bot, &call("silent"), "playPrompt"),
        2,
        "the prompt once per try"
    );

    // The collection's tones and prompts are its own; the one event is its end.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for (id, call) in &calls {
        let seen = events(&bot, id, call);
        assert!(of_kind(&seen, "tone-received").is_empty(), "{id}: {seen:?}");
        assert!(
            of_kind(&seen, "operation-completed").is_empty(),
            "{id}: {seen:?}"
        );
        assert_eq!(of_kind(&seen, "tones-collected").len(), 1, "{id}: {seen:?}");
        assert!(
            of_kind(&seen, "timer-fired").is_empty(),
            "{id}: the host's timer is its own"
        );
    }
}

#[tokio::test]
async fn a_key_over_the_prompt_stops_it() {
    let bot = collecting_bot(
        SimulatorSettings {
            media_duration: Duration::from_secs(3),
            ..SimulatorSettings::default()
        },
        &[("barge", collect(true, 1))],
    )
    .await;
    let call = call_to(&bot, "barge");
    let deadline = tokio::time::Instant::now() + WAIT;
    while requests(&bot, &call, "playPrompt") == 0 {
        assert!(tokio::time::Instant::now() < deadline, "no prompt");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    bot.sim.press(&call, Tone::Tone7);
    let ended = until_collected(&bot, "barge", &call).await;
    assert_eq!(
        (ended["digits"].as_str(), ended["reason"].as_str()),
        (Some("7"), Some("inter-digit-timeout"))
    );
    assert_eq!(requests(&bot, &call, "cancelMediaProcessing"), 1);
}
