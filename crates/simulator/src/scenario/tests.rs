//! Reading scenario files: what is accepted, and problems named by step or key.

use std::time::Duration;

use super::model::{CallSetup, EndedWith, Scenario, Step};
use callhost::call::{IdentityKind, MeetingRef, RejectReason, Tone};

fn problems(text: &str) -> Vec<String> {
    match Scenario::parse(text, "test.toml") {
        Ok(scenario) => panic!("accepted: {scenario:?}"),
        Err(e) => e.problems,
    }
}

fn has(problems: &[String], needle: &str) -> bool {
    problems.iter().any(|p| p.contains(needle))
}

#[test]
fn a_full_scenario_reads_as_written() {
    let scenario = Scenario::parse(
        r#"
name = "menu"
workflow = "ivr-menu"
end_timeout_ms = 700
simulator = { media_ms = 40, transfer_target = "declines" }
call = { from = "phone:+14255550123", from_name = "Pat" }
steps = [
  { wait_for = "playPrompt", timeout_ms = 900 },
  { press = "1*#" },
  { wait = 20 },
  { join = "user:u-1", name = "Dana", as = "dana" },
  { mute = "dana" },
  { leave = "dana" },
  { transfer_target = "answers" },
  { hang_up = true },
]
[expect]
answered_within_ms = 500
played = "https://x/menu.wav"
rejected = "forbidden"
ended = { subcode = 7015 }
requests = { transfer = 1 }
"#,
        "test.toml",
    )
    .unwrap();
    assert_eq!(scenario.workflow.as_deref(), Some("ivr-menu"));
    assert_eq!(scenario.end_timeout, Duration::from_millis(700));
    assert!(!scenario.simulator.transfers_succeed);
    let CallSetup::Incoming { caller, callee } = &scenario.call else {
        panic!("{:?}", scenario.call)
    };
    assert_eq!(
        (caller.kind, caller.display_name.as_deref()),
        (IdentityKind::Phone, Some("Pat"))
    );
    assert!(callee.is_none());
    assert_eq!(
        scenario.steps[1],
        Step::Press(vec![Tone::Tone1, Tone::Star, Tone::Pound])
    );
    assert_eq!(scenario.steps[3].to_string(), "join user:u-1 as dana");
    assert_eq!(
        scenario.expect.played,
        vec!["https://x/menu.wav".to_string()]
    );
    assert_eq!(scenario.expect.rejected, Some(RejectReason::Forbidden));
    assert_eq!(
        scenario.expect.ended,
        Some(EndedWith {
            code: None,
            subcode: Some(7015)
        })
    );
}

#[test]
fn a_meeting_join_by_id() {
    let scenario = Scenario::parse(
        r#"call = { join_meeting_id = "123", passcode = "abc" }"#,
        "test.toml",
    )
    .unwrap();
    assert_eq!(
        scenario.call,
        CallSetup::JoinMeeting(MeetingRef::JoinMeetingId {
            join_meeting_id: "123".into(),
            passcode: Some("abc".into())
        })
    );
    assert_eq!(scenario.name, "test.toml");
}

#[test]
fn every_problem_is_reported_with_its_step() {
    let found = problems(
        r#"
call = { from = "user:u-1" }
steps = [
  { wait = 10, press = "1" },
  {},
  { press = "x" },
  { wait_for = "dance" },
  { mute = "nobody" },
  { wait = 5, timeout_ms = 9 },
  { stop_responding = true },
  { hang_up = false },
]
[expect]
rejected = "rude"
requests = { teleport = 1 }
"#,
    );
    for needle in [
        "step 1: one action per step, found wait, press",
        "step 2: no action",
        "step 3: press = \"x\"",
        "step 4: wait_for = \"dance\" is not a request kind",
        "step 5: mute \"nobody\": no participant joined",
        "step 6: timeout_ms goes with wait_for",
        "step 8: comes after stop_responding",
        "step 8: hang_up = false does nothing",
        "expect.rejected = \"rude\"",
        "expect.requests.teleport: not a request kind",
    ] {
        assert!(has(&found, needle), "no `{needle}` in {found:#?}");
    }
}

#[test]
fn the_call_must_be_one_thing() {
    assert!(has(&problems("call = {}"), "call: say who calls the bot"));
    assert!(has(
        &problems(r#"call = { from = "user:a", join_url = "https://x" }"#),
        "not both"
    ));
    assert!(has(
        &problems(r#"call = { from = "robot:a" }"#),
        "call.from"
    ));
    assert!(has(
        &problems("call = { join_meeting_id = \"1\" }\n[expect]\nanswered = true\n"),
        "expect.answered: only an incoming call"
    ));
}

#[test]
fn unknown_keys_and_bad_toml_are_refused() {
    assert!(has(
        &problems("call = { from = \"user:a\" }\ncolour = 1\n"),
        "colour"
    ));
    assert_eq!(problems("call = { from = ").len(), 1);
}
