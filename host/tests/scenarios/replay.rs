//! Replays: a recorded call fed back through its plugin makes the same Graph requests, and
//! hand-written notifications are taken with whatever call ids they name.

use callhost_cli::replay::replay;

use super::*;

/// The Graph requests about a call, as the journal recorded them, up to the first timer that
/// fired or the first HTTP request the plugin sent, and whether there was one: a replay feeds
/// notifications only (no timer fires, no faked service answers), so from there on the
/// replayed call goes its own way.
fn recorded_requests(report: &callhost_simulator::scenario::ScenarioReport) -> (Vec<Value>, bool) {
    use callhost::journal::{JournalRecord, TimerChange};
    let timeline = report.timeline.as_ref().expect("a timeline");
    let first_fired = timeline.entries.iter().position(|e| match &e.record {
        JournalRecord::Timer { change, .. } => *change == TimerChange::Fired,
        JournalRecord::HttpRequest(_) => true,
        _ => false,
    });
    let before = &timeline.entries[..first_fired.unwrap_or(timeline.entries.len())];
    let requests = before
        .iter()
        .filter_map(|e| match &e.record {
            JournalRecord::GraphRequest(r) => Some(r),
            _ => None,
        })
        .map(|r| {
            let mut request = json!({ "method": r.method, "path": r.path });
            if let Some(body) = &r.body {
                request["body"] = body.clone();
            }
            request
        })
        .collect();
    (requests, first_fired.is_some())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recorded_call_replays_to_the_same_requests() {
    for (path, scenario) in example_scenarios() {
        let spec = spec_for(&scenario, &path);
        let report = simulate(&spec, &scenario).await.unwrap();
        let notifications = report.timeline.as_ref().unwrap().notifications();
        let replayed = replay(&spec, &notifications).await.unwrap();
        let replayed: Vec<Value> = replayed.iter().map(|r| json!(r)).collect();
        let (recorded, timed) = recorded_requests(&report);
        let replayed = match timed {
            true => &replayed[..recorded.len().min(replayed.len())],
            false => &replayed[..],
        };
        assert_eq!(
            replayed,
            &recorded[..],
            "{}: the replay's requests differ from the recording",
            path.display()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn replay_through_the_cli_prints_the_requests() {
    let path = repo_root().join("examples/scenarios/ivr-wrong-keys.toml");
    let scenario = Scenario::load(&path).unwrap();
    let report = simulate(&spec_for(&scenario, &path), &scenario)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("notifications.json");
    let notifications = report.timeline.as_ref().unwrap().notifications();
    std::fs::write(&file, serde_json::to_vec(&notifications).unwrap()).unwrap();
    let plugin = plugin_path("ivr-menu").display().to_string();
    let config = config_for("ivr-menu").display().to_string();
    let output = tokio::task::spawn_blocking(move || {
        let file = file.display().to_string();
        callhost(&[
            "replay",
            "--plugin",
            &plugin,
            "--config",
            &config,
            "--notifications",
            &file,
            "--json",
        ])
    })
    .await
    .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    let printed: Vec<Value> = text(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(printed, recorded_requests(&report).0);
    let call = report.call_id.unwrap();
    assert_eq!(
        printed[0]["path"],
        format!("/v1.0/communications/calls/{call}/answer")
    );
    assert!(
        printed.last().unwrap().get("body").is_none(),
        "a hang-up has no body"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn replay_takes_hand_written_notifications_with_their_own_call_ids() {
    let documents: Vec<Value> = [
        "notification-incoming-call.json",
        "notification-call-established.json",
    ]
    .iter()
    .map(|name| shapes::fixture(name))
    .collect();
    let spec = ServiceSpec::load(&plugin_path("ivr-menu"), Some(&config_for("ivr-menu"))).unwrap();
    let requests = replay(&spec, &documents).await.unwrap();
    let call = "/v1.0/communications/calls/57DAB8B1894C409AB240BD8BEAE78896";
    let made: Vec<(String, u16)> = requests
        .iter()
        .map(|r| (r.path.clone(), r.status))
        .collect();
    assert_eq!(
        made,
        [
            (format!("{call}/answer"), 202),
            (format!("{call}/subscribeToTone"), 200),
            (format!("{call}/playPrompt"), 200),
        ]
    );
}

/// Rewrites every notification of `documents` in the older shapes Graph also sends: routed by
/// the legacy `resource` only, PascalCase `changeType`, `@odata.type` without its `#`.
fn in_older_shapes(documents: &[Value]) -> Vec<Value> {
    fn strip_hash(value: &mut Value) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(t)) = map.get_mut("@odata.type") {
                    *t = t.trim_start_matches('#').to_string();
                }
                map.values_mut().for_each(strip_hash);
            }
            Value::Array(items) => items.iter_mut().for_each(strip_hash),
            _ => {}
        }
    }
    documents
        .iter()
        .map(|document| {
            let mut document = document.clone();
            for entry in document["value"].as_array_mut().unwrap() {
                let url = entry["resourceUrl"].as_str().unwrap().to_string();
                let map = entry.as_object_mut().unwrap();
                map.remove("resourceUrl");
                map.insert(
                    "resource".into(),
                    json!(url.replace("/communications/calls/", "/app/calls/")),
                );
                let change = map["changeType"].as_str().unwrap().to_string();
                map.insert(
                    "changeType".into(),
                    json!(change[..1].to_uppercase() + &change[1..]),
                );
                strip_hash(entry);
            }
            document
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn replay_accepts_what_the_service_accepts() {
    let path = repo_root().join("examples/scenarios/ivr-wrong-keys.toml");
    let scenario = Scenario::load(&path).unwrap();
    let spec = spec_for(&scenario, &path);
    let report = simulate(&spec, &scenario).await.unwrap();
    let recorded = report.timeline.as_ref().unwrap().notifications();
    let mut documents = in_older_shapes(&recorded);
    // A roster batched before its incoming call, in the call's first document.
    let call = report.call_id.clone().unwrap();
    let roster = json!({"changeType": "Updated", "resource": format!("/app/calls/{call}/participants"),
        "resourceData": [{"@odata.type": "microsoft.graph.participant", "id": "p-caller",
            "info": {"identity": {"user": {"id": "8a34a46b-3d17-4adc-8dce-dc4e7d572698"}}}}]});
    documents[0]["value"]
        .as_array_mut()
        .unwrap()
        .insert(0, roster);
    let replayed = replay(&spec, &documents).await.unwrap();
    let replayed: Vec<Value> = replayed.iter().map(|r| json!(r)).collect();
    // The host's mark on an operation's context names the journal entry it was made for, and
    // the added roster is an entry of its own: the marks are one further on, the rest the same.
    assert_eq!(
        without_marks(replayed),
        without_marks(recorded_requests(&report).0)
    );
}

/// The requests with the host's mark (`ch1:<entry>.<n>|`) taken off their `clientContext`.
fn without_marks(mut requests: Vec<Value>) -> Vec<Value> {
    for request in &mut requests {
        if let Some(Value::String(context)) = request.pointer_mut("/body/clientContext") {
            assert!(context.starts_with("ch1:"), "unmarked: {context}");
            *context = context
                .split_once('|')
                .map_or("", |(_, own)| own)
                .to_owned();
        }
    }
    requests
}
