//! Capability policies through the whole service: a plugin asks for something its policy does
//! not allow, the host answers `not-permitted`, Graph never receives the request, and the
//! refusal is logged and counted (dispatcher metrics, and per plugin version in the admin API).
//!
//! One service runs one recorder per case, each with its own policy and a route by callee;
//! each case's call asks for one action after answering.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::bot::{Bot, plugin_table};
use callhost::call::{ActionKind, Identity};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);
const CALLS: &str = "/v1.0/communications/calls";
const SHORT_MEETING_URL: &str = "https://teams.microsoft.com/meet/2513337842?p=ZkgAgYv3";

/// One plugin asking for one action.
struct Case {
    /// The plugin id, also the callee its calls are routed by.
    id: String,
    /// Lines of its `[plugins.<id>.policy]` table; none for the default policy.
    policy: Option<String>,
    action: Value,
    /// The request Graph would receive: method and path (`{call}` stands for the call id).
    request: (&'static str, String),
    denied: bool,
}

/// A valid request for each call-control function, and the Graph request it becomes.
fn action(function: &str) -> (Value, &'static str, String) {
    let user = json!({"kind": "user", "id": "u-1"});
    let on_call = |path: &str| format!("{CALLS}/{{call}}{path}");
    let (action, method, path) = match function {
        "answer" => (json!({"modalities": ["audio"]}), "POST", on_call("/answer")),
        "reject" => (json!({"reason": "busy"}), "POST", on_call("/reject")),
        "redirect" => (json!({"targets": [user]}), "POST", on_call("/redirect")),
        "transfer" => (json!({"target": user}), "POST", on_call("/transfer")),
        "hang-up" => (json!({}), "DELETE", on_call("")),
        "join-meeting" => (
            json!({"meeting": {"join-url": SHORT_MEETING_URL}}),
            "POST",
            CALLS.to_string(),
        ),
        "place-call" => (json!({"targets": [user]}), "POST", CALLS.to_string()),
        "play-prompt" => (
            json!({"prompts": [{"uri": "https://media.example.com/a.wav"}]}),
            "POST",
            on_call("/playPrompt"),
        ),
        "record-response" => (
            json!({"prompts": [], "barge-in-allowed": true, "play-beep": true}),
            "POST",
            on_call("/recordResponse"),
        ),
        "subscribe-to-tone" => (json!({}), "POST", on_call("/subscribeToTone")),
        "send-dtmf-tones" => (json!({"tones": ["one"]}), "POST", on_call("/sendDtmfTones")),
        "cancel-media-processing" => (json!({}), "POST", on_call("/cancelMediaProcessing")),
        "mute" => (json!({}), "POST", on_call("/mute")),
        "unmute" => (json!({}), "POST", on_call("/unmute")),
        "mute-participant" => (
            json!({"participant-id": "p-1"}),
            "POST",
            on_call("/participants/p-1/mute"),
        ),
        "invite-participants" => (
            json!({"participants": [{"identity": user}]}),
            "POST",
            on_call("/participants/invite"),
        ),
        "start-hold-music" => (
            json!({"participant-id": "p-1"}),
            "POST",
            on_call("/participants/p-1/startHoldMusic"),
        ),
        "stop-hold-music" => (
            json!({"participant-id": "p-1"}),
            "POST",
            on_call("/participants/p-1/stopHoldMusic"),
        ),
        other => panic!("no example for `{other}`"),
    };
    let mut action = action;
    action["fn"] = json!(function);
    if path.starts_with(&on_call("")) {
        action["call"] = json!("$call");
    }
    (action, method, path)
}

/// A transfer to `target` (`kind`, `id`).
fn transfer(kind: &str, id: &str) -> (Value, &'static str, String) {
    let (mut action, method, path) = action("transfer");
    action["target"] = json!({"kind": kind, "id": id});
    (action, method, path)
}

fn case(
    id: &str,
    policy: Option<&str>,
    denied: bool,
    example: (Value, &'static str, String),
) -> Case {
    let (action, method, path) = example;
    Case {
        id: id.to_string(),
        policy: policy.map(str::to_string),
        action,
        request: (method, path),
        denied,
    }
}

fn cases() -> Vec<Case> {
    // Each function, refused when it is the one missing from `allow`.
    let names: Vec<&str> = ActionKind::plugin_functions().map(|f| f.name()).collect();
    let mut cases: Vec<Case> = names
        .iter()
        .map(|f| {
            let others: Vec<&str> = names.iter().copied().filter(|g| g != f).collect();
            let policy = format!("allow = {others:?}\ntargets = [\"*\"]");
            case(&format!("without-{f}"), Some(&policy), true, action(f))
        })
        .collect();
    // The default policy: no calls placed, no meetings joined, no phone numbers reached;
    // users are fine.
    cases.extend([
        case("default-place-call", None, true, action("place-call")),
        case("default-join-meeting", None, true, action("join-meeting")),
        case(
            "default-phone",
            None,
            true,
            transfer("phone", "+14255550100"),
        ),
        case("default-user", None, false, transfer("user", "u-7")),
    ]);
    // Target patterns: a phone prefix and one user.
    let patterns = "allow = [\"answer\", \"transfer\", \"invite-participants\"]\ntargets = [\"phone:+1425*\", \"user:u-1\"]";
    let mut invite = action("invite-participants");
    invite.0["participants"] = json!([{"identity": {"kind": "phone", "id": "+33155550100"}}]);
    cases.extend([
        case(
            "pattern-phone",
            Some(patterns),
            false,
            transfer("phone", "+14255550100"),
        ),
        case(
            "pattern-other-phone",
            Some(patterns),
            true,
            transfer("phone", "+33155550100"),
        ),
        case(
            "pattern-user",
            Some(patterns),
            false,
            transfer("user", "u-1"),
        ),
        case(
            "pattern-other-user",
            Some(patterns),
            true,
            transfer("user", "u-2"),
        ),
        case("pattern-invite", Some(patterns), true, invite),
    ]);
    cases
}

/// Log lines of this test binary.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn refused_actions_never_reach_graph_and_are_logged_and_counted() {
    let logs = Logs::default();
    let writer = logs.clone();
    // This test's thread only: other tests in the binary log elsewhere.
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _logs = tracing::subscriber::set_default(subscriber);

    let cases = cases();
    let mut config = String::new();
    for case in &cases {
        let answer = json!({"fn": "answer", "call": "$call", "modalities": ["audio"]});
        let actions = if case.action["fn"] == "answer" {
            json!([case.action])
        } else {
            json!([answer, case.action])
        };
        let id = &case.id;
        config.push_str(&format!(
            "[[routes]]\nplugin = \"{id}\"\nmatch = {{ callee = \"application:{id}\" }}\n"
        ));
        let settings = [("on", "incoming-call"), ("actions", &actions.to_string())];
        config.push_str(&plugin_table(id, "recorder", &settings));
        if let Some(policy) = &case.policy {
            config.push_str(&format!("[plugins.{id}.policy]\n{policy}\n"));
        }
    }
    let bot = Bot::start(&config).await;
    let calls: Vec<String> = cases
        .iter()
        .map(|case| {
            let callee = Identity::application(case.id.clone());
            bot.sim.incoming_call(Identity::user("caller-1"), callee)
        })
        .collect();
    let path = |case: &Case, call: &str| case.request.1.replace("{call}", call);
    let received = |case: &Case, call: &str| {
        let path = path(case, call);
        bot.sim
            .requests()
            .iter()
            .any(|r| r.method == case.request.0 && r.path == path)
    };
    let plugins = bot.dispatcher.plugins();
    let denied = |id: &str| -> u64 {
        let report = plugins.report();
        let plugin = report.plugins.iter().find(|p| p.id == id).unwrap();
        plugin.versions.iter().map(|v| v.actions_denied).sum()
    };
    // Each call's invocation is over once its refusal is counted or its request arrived.
    let all_done = bot
        .sim
        .wait_until(WAIT, || {
            cases
                .iter()
                .zip(&calls)
                .all(|(case, call)| match case.denied {
                    true => denied(&case.id) == 1,
                    false => received(case, call),
                })
                .then_some(())
        })
        .await;
    assert!(all_done.is_some(), "{:#?}", plugins.report());

    for (case, call) in cases.iter().zip(&calls) {
        let (method, _) = &case.request;
        let path = path(case, call);
        match case.denied {
            true => assert!(
                !received(case, call),
                "{}: Graph got {method} {path}",
                case.id
            ),
            false => assert_eq!(denied(&case.id), 0, "{}", case.id),
        }
    }
    let refused = cases.iter().filter(|c| c.denied).count() as u64;
    assert_eq!(bot.dispatcher.metrics().actions_denied, refused);
    let metrics = bot.admin_get("/admin/metrics").await;
    assert_eq!(metrics["actions_denied"], refused);

    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let refusals: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("call-control action denied by policy"))
        .collect();
    assert_eq!(refusals.len() as u64, refused, "{logs}");
    let phone = refusals
        .iter()
        .find(|l| l.contains("plugin=default-phone"))
        .unwrap();
    assert!(phone.contains("phone `+14255550100`"), "{phone}");
    let place = refusals
        .iter()
        .find(|l| l.contains("plugin=default-place-call"))
        .unwrap();
    assert!(
        place.contains("`place-call` is not in this plugin's policy.allow list"),
        "{place}"
    );
}
