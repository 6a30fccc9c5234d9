//! Reading a scenario file: TOML into its raw tables, then every problem found, each naming
//! its step or key.

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use super::fake_http::{CannedResponse, FakeOrigin};
use super::file::{
    CallTable, ExpectTable, HttpTable, OneOrMany, ScenarioFile, SimulatorTable, StepTable,
};
use super::model::{
    CallSetup, EndedWith, Expectations, Scenario, ScenarioError, SimulatorOptions, Step,
};
use super::requests::REQUEST_KINDS;
use callhost::call::{Identity, MeetingRef, RejectReason, Tone};

/// How long `wait_for` waits unless told.
pub const DEFAULT_WAIT_FOR: Duration = Duration::from_secs(5);
/// How long, after the steps, the call has to end unless told.
pub const DEFAULT_END_TIMEOUT: Duration = Duration::from_secs(5);

impl Scenario {
    /// Reads and validates a scenario file.
    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
            origin: origin.clone(),
            problems: vec![format!("cannot read it: {e}")],
        })?;
        Self::parse(&text, &origin)
    }

    /// Parses and validates scenario text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, ScenarioError> {
        let fail = |problems| ScenarioError {
            origin: origin.to_string(),
            problems,
        };
        let file: ScenarioFile =
            toml::from_str(text).map_err(|e| fail(vec![e.to_string().trim().to_string()]))?;
        let mut problems = Vec::new();
        let simulator = simulator_options(&file.simulator, &mut problems);
        let call = call_setup(&file.call, &mut problems);
        let steps = steps(&file.steps, &mut problems);
        let expect = expectations(&file.expect, call.as_ref(), &mut problems);
        let http = fake_origins(&file.http, &mut problems);
        match call {
            Some(call) if problems.is_empty() => Ok(Scenario {
                name: file.name.unwrap_or_else(|| origin.to_string()),
                description: file.description,
                workflow: file.workflow,
                end_timeout: file
                    .end_timeout_ms
                    .map(Duration::from_millis)
                    .unwrap_or(DEFAULT_END_TIMEOUT),
                simulator,
                call,
                steps,
                expect,
                http,
            }),
            _ => Err(fail(problems)),
        }
    }
}

fn transfer_answers(value: &str, key: &str, problems: &mut Vec<String>) -> bool {
    match value {
        "answers" => true,
        "declines" => false,
        other => {
            problems.push(format!(
                "{key} = {other:?}: use \"answers\" or \"declines\""
            ));
            true
        }
    }
}

fn simulator_options(table: &SimulatorTable, problems: &mut Vec<String>) -> SimulatorOptions {
    let defaults = SimulatorOptions::default();
    SimulatorOptions {
        media: table
            .media_ms
            .map(Duration::from_millis)
            .unwrap_or(defaults.media),
        notification_delay: table
            .notification_delay_ms
            .map(Duration::from_millis)
            .unwrap_or(defaults.notification_delay),
        transfers_succeed: table
            .transfer_target
            .as_deref()
            .map(|t| transfer_answers(t, "simulator.transfer_target", problems))
            .unwrap_or(defaults.transfers_succeed),
    }
}

fn identity(text: &str, key: &str, problems: &mut Vec<String>) -> Option<Identity> {
    text.parse::<callhost::call::Identity>()
        .map_err(|e| problems.push(format!("{key}: {e}")))
        .ok()
}

fn call_setup(call: &CallTable, problems: &mut Vec<String>) -> Option<CallSetup> {
    let meeting = match (&call.join_url, &call.join_meeting_id) {
        (Some(url), None) => Some(MeetingRef::JoinUrl(url.clone())),
        (None, Some(id)) => Some(MeetingRef::JoinMeetingId {
            join_meeting_id: id.clone(),
            passcode: call.passcode.clone(),
        }),
        (None, None) => None,
        (Some(_), Some(_)) => {
            problems.push("call: give join_url or join_meeting_id, not both".into());
            return None;
        }
    };
    match (&call.from, meeting) {
        (Some(from), None) => {
            let caller = identity(from, "call.from", problems)?;
            let callee = match &call.to {
                Some(to) => Some(identity(to, "call.to", problems)?),
                None => None,
            };
            if call.passcode.is_some() {
                problems.push("call.passcode goes with join_meeting_id".into());
            }
            Some(CallSetup::Incoming {
                caller: Identity {
                    display_name: call.from_name.clone(),
                    ..caller
                },
                callee,
            })
        }
        (None, Some(meeting)) => {
            if call.to.is_some() || call.from_name.is_some() {
                problems.push("call: `to` and `from_name` go with `from` (an incoming call), not with a meeting join".into());
            }
            Some(CallSetup::JoinMeeting(meeting))
        }
        (Some(_), Some(_)) => {
            problems.push(
                "call: give `from` (someone calls the bot) or a meeting to join, not both".into(),
            );
            None
        }
        (None, None) => {
            problems.push("call: say who calls the bot (`from = \"user:<id>\"`) or which meeting it joins (`join_url` or `join_meeting_id`)".into());
            None
        }
    }
}

fn steps(tables: &[StepTable], problems: &mut Vec<String>) -> Vec<Step> {
    let mut labels = HashSet::new();
    let mut steps = Vec::new();
    for (index, table) in tables.iter().enumerate() {
        let name = format!("step {}", index + 1);
        let before = problems.len();
        if let Some(step) = step(table, &name, &mut labels, problems) {
            if matches!(steps.last(), Some(Step::StopResponding)) {
                problems.push(format!(
                    "{name}: comes after stop_responding, which must be the last step"
                ));
            }
            steps.push(step);
        } else if problems.len() == before {
            problems.push(format!("{name}: not understood"));
        }
    }
    steps
}

fn step(
    t: &StepTable,
    name: &str,
    labels: &mut HashSet<String>,
    problems: &mut Vec<String>,
) -> Option<Step> {
    let actions: Vec<&str> = [
        ("wait", t.wait.is_some()),
        ("wait_for", t.wait_for.is_some()),
        ("press", t.press.is_some()),
        ("hang_up", t.hang_up.is_some()),
        ("join", t.join.is_some()),
        ("leave", t.leave.is_some()),
        ("mute", t.mute.is_some()),
        ("unmute", t.unmute.is_some()),
        ("transfer_target", t.transfer_target.is_some()),
        ("stop_responding", t.stop_responding.is_some()),
    ]
    .into_iter()
    .filter_map(|(key, set)| set.then_some(key))
    .collect();
    let action = match actions.as_slice() {
        [one] => *one,
        [] => {
            problems.push(format!("{name}: no action; give one of wait, wait_for, press, hang_up, join, leave, mute, unmute, transfer_target, stop_responding"));
            return None;
        }
        many => {
            problems.push(format!(
                "{name}: one action per step, found {}",
                many.join(", ")
            ));
            return None;
        }
    };
    if t.timeout_ms.is_some() && action != "wait_for" {
        problems.push(format!("{name}: timeout_ms goes with wait_for"));
    }
    if (t.name.is_some() || t.label.is_some()) && action != "join" {
        problems.push(format!("{name}: `name` and `as` go with join"));
    }
    let known = |label: &String, problems: &mut Vec<String>| {
        if !labels.contains(label) {
            problems.push(format!(
                "{name}: {action} {label:?}: no participant joined as {label:?} in an earlier step"
            ));
        }
        label.clone()
    };
    let yes = |flag: Option<bool>, problems: &mut Vec<String>| {
        if flag == Some(false) {
            problems.push(format!(
                "{name}: {action} = false does nothing; remove the step"
            ));
        }
    };
    Some(match action {
        "wait" => Step::Wait(Duration::from_millis(t.wait?)),
        "wait_for" => {
            let kind = t.wait_for.clone()?;
            if !REQUEST_KINDS.contains(&kind.as_str()) {
                problems.push(format!(
                    "{name}: wait_for = {kind:?} is not a request kind; use one of {}",
                    REQUEST_KINDS.join(", ")
                ));
            }
            let timeout = t.timeout_ms.map(Duration::from_millis);
            Step::WaitFor {
                kind,
                timeout: timeout.unwrap_or(DEFAULT_WAIT_FOR),
            }
        }
        "press" => {
            let keys = t.press.as_deref()?;
            let tones: Vec<Tone> = keys.chars().filter_map(Tone::from_char).collect();
            if keys.is_empty() || tones.len() != keys.chars().count() {
                problems.push(format!(
                    "{name}: press = {keys:?}: keys are 0-9, *, #, A-D (\"1\", \"*#\")"
                ));
            }
            Step::Press(tones)
        }
        "hang_up" => {
            yes(t.hang_up, problems);
            Step::HangUp
        }
        "join" => {
            let who = identity(t.join.as_deref()?, &format!("{name}: join"), problems)?;
            let label = t.label.clone().unwrap_or_else(|| who.id.clone());
            if !labels.insert(label.clone()) {
                problems.push(format!(
                    "{name}: a participant already joined as {label:?}; give this one another `as`"
                ));
            }
            Step::Join {
                who: Identity {
                    display_name: t.name.clone(),
                    ..who
                },
                label,
            }
        }
        "leave" => {
            let label = known(t.leave.as_ref()?, problems);
            labels.remove(&label);
            Step::Leave(label)
        }
        "mute" => Step::Mute(known(t.mute.as_ref()?, problems)),
        "unmute" => Step::Unmute(known(t.unmute.as_ref()?, problems)),
        "transfer_target" => Step::TransferTarget {
            answers: transfer_answers(
                t.transfer_target.as_deref()?,
                &format!("{name}: transfer_target"),
                problems,
            ),
        },
        "stop_responding" => {
            yes(t.stop_responding, problems);
            Step::StopResponding
        }
        _ => return None,
    })
}

fn expectations(
    t: &ExpectTable,
    call: Option<&CallSetup>,
    problems: &mut Vec<String>,
) -> Expectations {
    let incoming_only = [
        ("answered", t.answered.is_some()),
        ("answered_within_ms", t.answered_within_ms.is_some()),
        ("rejected", t.rejected.is_some()),
        ("redirected_to", t.redirected_to.is_some()),
    ];
    if matches!(call, Some(CallSetup::JoinMeeting(_))) {
        for (key, _) in incoming_only.iter().filter(|(_, set)| *set) {
            problems.push(format!(
                "expect.{key}: only an incoming call is answered, rejected or redirected; this scenario joins a meeting"
            ));
        }
    }
    for kind in t.requests.keys() {
        if !REQUEST_KINDS.contains(&kind.as_str()) {
            problems.push(format!(
                "expect.requests.{kind}: not a request kind; use one of {}",
                REQUEST_KINDS.join(", ")
            ));
        }
    }
    let rejected = t.rejected.as_deref().and_then(|r| match r {
        "none" => Some(RejectReason::None),
        "busy" => Some(RejectReason::Busy),
        "forbidden" => Some(RejectReason::Forbidden),
        other => {
            problems.push(format!(
                "expect.rejected = {other:?}: use \"none\", \"busy\" or \"forbidden\""
            ));
            None
        }
    });
    Expectations {
        answered: t.answered,
        answered_within: t.answered_within_ms.map(Duration::from_millis),
        played: match &t.played {
            OneOrMany::None => Vec::new(),
            OneOrMany::One(uri) => vec![uri.clone()],
            OneOrMany::Many(uris) => uris.clone(),
        },
        transferred_to: t
            .transferred_to
            .as_deref()
            .and_then(|x| identity(x, "expect.transferred_to", problems)),
        redirected_to: t
            .redirected_to
            .as_deref()
            .and_then(|x| identity(x, "expect.redirected_to", problems)),
        rejected,
        hung_up: t.hung_up,
        ended: t.ended.as_ref().map(|e| EndedWith {
            code: e.code,
            subcode: e.subcode,
        }),
        fallback: t.fallback,
        requests: t.requests.clone(),
        fetched: match &t.fetched {
            OneOrMany::None => Vec::new(),
            OneOrMany::One(request) => vec![request.clone()],
            OneOrMany::Many(requests) => requests.clone(),
        },
        http_requests: t.http_requests,
    }
}

/// The `[[http]]` services: an origin each (`scheme://host[:port]`, no path), once.
fn fake_origins(tables: &[HttpTable], problems: &mut Vec<String>) -> Vec<FakeOrigin> {
    let mut seen = HashSet::new();
    let mut origins = Vec::new();
    for (i, table) in tables.iter().enumerate() {
        let key = format!("http[{i}]");
        let valid = table
            .origin
            .split_once("://")
            .is_some_and(|(scheme, rest)| {
                matches!(scheme, "http" | "https") && !rest.is_empty() && !rest.contains('/')
            });
        if !valid {
            problems.push(format!(
                "{key}.origin = {:?}: write the origin the plugin sends to, as `https://crm.example.com` (scheme and host, optionally a port, no path)",
                table.origin
            ));
            continue;
        }
        if !seen.insert(table.origin.clone()) {
            problems.push(format!("{key}.origin {:?} is faked twice", table.origin));
        }
        let mut responses = Vec::new();
        for (j, r) in table.responses.iter().enumerate() {
            let key = format!("{key}.responses[{j}]");
            if !r.path.starts_with('/') {
                problems.push(format!("{key}.path {:?} must start with `/`", r.path));
            }
            let status = r.status.unwrap_or(200);
            if !(100..=599).contains(&status) {
                problems.push(format!("{key}.status {status} is not an HTTP status"));
            }
            responses.push(CannedResponse {
                method: r.method.clone(),
                path: r.path.clone(),
                status,
                body: r.body.clone().unwrap_or_default(),
                content_type: r
                    .content_type
                    .clone()
                    .unwrap_or_else(|| "application/json".into()),
                delay: Duration::from_millis(r.delay_ms.unwrap_or(0)),
            });
        }
        origins.push(FakeOrigin {
            origin: table.origin.clone(),
            down: table.down.unwrap_or(false),
            responses,
        });
    }
    origins
}
