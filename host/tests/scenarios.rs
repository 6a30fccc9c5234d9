//! Scenarios for plugin authors: the example scenarios pass against the example plugins
//! through the library and through `callhost simulate`; a failed expectation fails the run and
//! names its step; a recorded call replays to the same Graph requests; the admin API serves
//! timelines; and the simulator's notifications have the documented shapes.

#[path = "scenarios/replay.rs"]
mod replay;
#[path = "scenarios/shapes.rs"]
mod shapes;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use crate::support::bot::{BOT_APP_ID, Bot, plugin_table};
use crate::support::{plugin_path, repo_root};
use callhost_simulator::SimRecord;
use callhost_simulator::scenario::{Scenario, ServiceSpec, simulate};
use serde_json::{Value, json};

/// The example plugins with scenarios, and the configuration each runs with.
const WORKFLOWS: &[(&str, &str)] = &[
    ("ivr-menu", "examples/ivr-menu.toml"),
    ("answer-and-greet", "examples/callhost.toml"),
    ("pin-entry", "examples/pin-entry.toml"),
    ("crm-router", "examples/crm-router.toml"),
];

fn config_for(workflow: &str) -> PathBuf {
    let (_, config) = WORKFLOWS
        .iter()
        .find(|(w, _)| *w == workflow)
        .unwrap_or_else(|| panic!("no example configuration for the workflow `{workflow}`"));
    repo_root().join(config)
}

/// Every scenario in examples/scenarios/, with its file.
fn example_scenarios() -> Vec<(PathBuf, Scenario)> {
    let dir = repo_root().join("examples/scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let scenario = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
            (path, scenario)
        })
        .collect()
}

fn workflow(scenario: &Scenario, path: &Path) -> String {
    scenario
        .workflow
        .clone()
        .unwrap_or_else(|| panic!("{} names no workflow", path.display()))
}

fn spec_for(scenario: &Scenario, path: &Path) -> ServiceSpec {
    let workflow = workflow(scenario, path);
    let config = config_for(&workflow);
    ServiceSpec::load(&plugin_path(&workflow), Some(&config)).unwrap()
}

fn callhost(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_callhost"))
        .args(args)
        .current_dir(repo_root())
        .env("CALLHOST_LOG", "warn")
        .output()
        .expect("the callhost binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn simulate_cli(plugin: &str, config: &Path, scenario: &Path, json: bool) -> Output {
    let plugin = plugin_path(plugin).display().to_string();
    let (config, scenario) = (config.display().to_string(), scenario.display().to_string());
    let mut args = vec![
        "simulate",
        "--plugin",
        &plugin,
        "--config",
        &config,
        "--scenario",
        &scenario,
    ];
    if json {
        args.push("--json");
    }
    callhost(&args)
}

/// A workflow that sends HTTP requests, loaded without `allowed_outbound_hosts`: the load
/// says that every request will be refused and how to allow some. The CRM router then fails
/// safe to its menu.
#[test]
fn a_plugin_that_sends_http_with_nowhere_allowed_is_warned_about_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let example = std::fs::read_to_string(config_for("crm-router")).unwrap();
    let closed = example.replace(
        "allowed_outbound_hosts = [\"https://crm.example.com\"]",
        "allowed_outbound_hosts = []",
    );
    assert_ne!(closed, example, "the example lists the CRM's origin");
    let config = dir.path().join("crm-router.toml");
    std::fs::write(
        &config,
        closed.replace("../target/", &format!("{}/target/", repo_root().display())),
    )
    .unwrap();
    let scenario = repo_root().join("examples/scenarios/crm-unknown-caller.toml");
    let output = simulate_cli("crm-router", &config, &scenario, false);
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(
            "plugins.crm.allowed_outbound_hosts is empty: every request it sends is refused"
        ),
        "{stderr}"
    );
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("=> no answer") && stdout.contains("http-request-denied"),
        "the refused lookup is in the timeline:\n{stdout}"
    );
    assert!(
        stdout.contains("ok   expect.played https://media.example.com/crm-menu.wav"),
        "the router still offers the menu:\n{stdout}"
    );
}

#[test]
fn every_example_plugin_has_scenarios() {
    let scenarios = example_scenarios();
    for (workflow, _) in WORKFLOWS {
        assert!(
            scenarios
                .iter()
                .any(|(_, s)| s.workflow.as_deref() == Some(*workflow)),
            "examples/scenarios/ has no scenario for {workflow}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn example_scenarios_pass_through_the_library() {
    for (path, scenario) in example_scenarios() {
        let report = simulate(&spec_for(&scenario, &path), &scenario)
            .await
            .unwrap();
        assert!(report.passed(), "{}:\n{report}", path.display());
    }
}

#[test]
fn example_scenarios_pass_through_the_cli() {
    for (path, scenario) in example_scenarios() {
        let workflow = workflow(&scenario, &path);
        let output = simulate_cli(&workflow, &config_for(&workflow), &path, true);
        let stdout = text(&output.stdout);
        assert!(
            output.status.success(),
            "{}: {}\n{stdout}",
            path.display(),
            text(&output.stderr)
        );
        let lines: Vec<Value> = stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        assert!(
            lines
                .iter()
                .any(|l| l["type"] == "timeline" && l["kind"] == "graph-request")
        );
        let last = lines.last().unwrap();
        assert_eq!(
            (&last["type"], &last["passed"]),
            (&json!("result"), &json!(true))
        );
    }
}

#[test]
fn a_failing_expectation_exits_non_zero_and_names_it() {
    let scenario = repo_root().join("host/tests/data/ivr-wrong-transfer-target.toml");
    let output = simulate_cli("ivr-menu", &config_for("ivr-menu"), &scenario, false);
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert!(!output.status.success(), "{stdout}");
    assert!(
        stderr
            .contains("failed at expect.transferred_to user:33333333-3333-3333-3333-333333333333"),
        "{stderr}"
    );
    assert!(stdout.contains("FAIL expect.transferred_to"), "{stdout}");
    assert!(
        stdout.contains("ok   expect.ended"),
        "the other checks still run:\n{stdout}"
    );
}

#[test]
fn a_step_that_is_not_met_exits_non_zero_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("no-redirect.toml");
    std::fs::write(
        &scenario,
        r#"
name = "the menu never redirects"
call = { from = "user:8a34a46b-3d17-4adc-8dce-dc4e7d572698" }
end_timeout_ms = 200
steps = [
  { wait_for = "answer" },
  { wait_for = "redirect", timeout_ms = 300 },
  { press = "1" },
]
"#,
    )
    .unwrap();
    let output = simulate_cli("ivr-menu", &config_for("ivr-menu"), &scenario, false);
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert!(!output.status.success(), "{stdout}");
    assert!(
        stderr.contains("failed at step 2 (wait_for redirect (300 ms)): no redirect request"),
        "{stderr}"
    );
    assert!(stdout.contains("skip step 3 (press \"1\")"), "{stdout}");
}

#[test]
fn an_invalid_scenario_is_refused_naming_the_step() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("invalid.toml");
    std::fs::write(
        &scenario,
        r#"
call = { from = "user:8a34a46b-3d17-4adc-8dce-dc4e7d572698" }
steps = [{ wait_for = "answer" }, { press = "1", hang_up = true }, { leave = "nobody" }]
"#,
    )
    .unwrap();
    let output = simulate_cli("ivr-menu", &config_for("ivr-menu"), &scenario, false);
    let stderr = text(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("step 2: one action per step, found press, hang_up"),
        "{stderr}"
    );
    assert!(
        stderr.contains("step 3: leave \"nobody\": no participant joined"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_api_serves_a_calls_timeline_and_notifications() {
    let greeter = plugin_table(
        "greeter",
        "answer-and-greet",
        &[("greeting", "https://media.example.com/hi.wav")],
    );
    let bot = Bot::start(&format!("[[routes]]\nplugin = \"greeter\"\n{greeter}")).await;
    let caller = callhost::call::Identity::user("8a34a46b-3d17-4adc-8dce-dc4e7d572698");
    let call = bot
        .sim
        .incoming_call(caller, callhost::call::Identity::application(BOT_APP_ID));
    // The greeter answers, greets and hangs up: once the call's end is delivered and
    // handled, its journal is complete.
    let ended = |r: &SimRecord| {
        matches!(r, SimRecord::Notification { call_id, body, .. }
            if call_id == &call && body.pointer("/value/0/resourceData/state") == Some(&json!("terminated")))
    };
    let wait = Duration::from_secs(10);
    let delivered = bot
        .sim
        .wait_until(wait, || bot.sim.records().iter().any(ended).then_some(()));
    assert!(delivered.await.is_some(), "the greeter's call ends");
    assert!(bot.dispatcher.drain(wait).await);

    let get = |suffix: &str| {
        bot.http
            .get(format!("{}/admin/calls/{suffix}", bot.admin_url))
            .send()
    };
    let timeline: Value = get(&format!("{call}/timeline"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (&timeline["callId"], &timeline["ended"]),
        (&json!(call), &json!(true))
    );
    let kinds: Vec<&str> = timeline["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds[..3], ["notification", "invocation", "graph-request"]);
    let answer = timeline["entries"][2].clone();
    assert_eq!(
        answer["path"],
        format!("/v1.0/communications/calls/{call}/answer")
    );
    assert_eq!(
        (&answer["method"], &answer["status"]),
        (&json!("POST"), &json!(202))
    );
    let invocation = &timeline["entries"][1];
    assert_eq!(
        (&invocation["plugin"], &invocation["outcome"]),
        (&json!("greeter"), &json!("completed"))
    );

    let notifications: Vec<Value> = get(&format!("{call}/notifications"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        notifications.len(),
        kinds.iter().filter(|k| **k == "notification").count()
    );
    for document in &notifications {
        assert_eq!(
            document["@odata.type"],
            "#microsoft.graph.commsNotifications"
        );
    }
    assert_eq!(notifications[0]["value"][0]["changeType"], "created");

    let unknown = get("no-such-call/timeline").await.unwrap();
    assert_eq!(unknown.status(), reqwest::StatusCode::NOT_FOUND);
}

#[test]
fn the_demo_runs_every_sample_call() {
    let plugins = plugin_path("ivr-menu")
        .parent()
        .unwrap()
        .display()
        .to_string();
    let output = callhost(&["demo", "--plugins", &plugins]);
    let stdout = text(&output.stdout);
    assert!(
        output.status.success(),
        "{}\n{stdout}",
        text(&output.stderr)
    );
    assert!(
        stdout.contains("demo: all 4 sample calls went as expected"),
        "{stdout}"
    );
    assert!(stdout.contains("transferred_to user:22222222-2222-2222-2222-222222222222"));
}

#[test]
fn the_demo_names_the_build_step_when_plugins_are_missing() {
    let dir = tempfile::tempdir().unwrap();
    let output = callhost(&["demo", "--plugins", &dir.path().display().to_string()]);
    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains("cargo xtask build-plugins"),
        "{}",
        text(&output.stderr)
    );
}
