//! Plays a scenario's steps on the simulator, waits for the call to end, and checks the
//! expectations against the call's journal.

use std::collections::HashMap;
use std::time::Duration;

use super::expect;
use super::model::{CallSetup, Scenario, Step};
use super::report::{ScenarioReport, StepResult, StepStatus};
use super::requests::request_kind;
use super::service::SimulatedService;
use crate::RecordedRequest;
use callhost::call::{CallAction, Identity, JoinMeeting};
use callhost::journal::CallJournal as _;

/// How long, once the call ended, accepted notifications have to be handled.
const DRAIN: Duration = Duration::from_secs(2);

/// Runs `scenario` on `service`. Never fails: every problem is a failed step of the report.
pub async fn run(scenario: &Scenario, service: &SimulatedService) -> ScenarioReport {
    let mut report = ScenarioReport::new(&scenario.name);
    let call_id = match start_call(scenario, service).await {
        Ok(call_id) => call_id,
        Err(message) => {
            report.push(StepResult::new("call", StepStatus::Failed, message));
            return report;
        }
    };
    report.call_id = Some(call_id.clone());
    let mut play = Play {
        service,
        call_id: &call_id,
        cursor: 0,
        participants: HashMap::new(),
    };
    let mut failed = false;
    for (index, step) in scenario.steps.iter().enumerate() {
        let name = format!("step {} ({step})", index + 1);
        if failed {
            report.push(StepResult::new(
                name,
                StepStatus::Skipped,
                "an earlier step failed",
            ));
            continue;
        }
        let (status, detail) = match play.step(step).await {
            Ok(detail) => (StepStatus::Passed, detail),
            Err(message) => {
                failed = true;
                (StepStatus::Failed, message)
            }
        };
        report.push(StepResult::new(name, status, detail));
    }
    let journal = &service.journal;
    let ended = journal
        .wait_until(scenario.end_timeout, || {
            journal.has_ended(&call_id).then_some(())
        })
        .await
        .is_some();
    service.dispatcher.drain(DRAIN).await;
    let timeline = journal.timeline(&call_id);
    let outcome = expect::ObservedCall {
        timeline: timeline.as_ref(),
        ended,
        end_timeout: scenario.end_timeout,
    };
    report
        .steps
        .extend(expect::check(&scenario.expect, &outcome));
    report.timeline = timeline;
    report
}

async fn start_call(scenario: &Scenario, service: &SimulatedService) -> Result<String, String> {
    match &scenario.call {
        CallSetup::Incoming { caller, callee } => {
            let bot = || Identity {
                display_name: Some("callhost".into()),
                ..Identity::application(service.sim.settings().bot_app_id.clone())
            };
            let callee = callee.clone().unwrap_or_else(bot);
            Ok(service.sim.incoming_call(caller.clone(), callee))
        }
        CallSetup::JoinMeeting(meeting) => {
            let action = CallAction::JoinMeeting(JoinMeeting {
                meeting: meeting.clone(),
                tenant_id: None,
                display_name: None,
            });
            service
                .dispatcher
                .create_call(&service.plugin_id, action, true)
                .await
                .map_err(|e| format!("the bot could not join the meeting: {e}"))
        }
    }
}

/// The other side of the call, step by step.
struct Play<'a> {
    service: &'a SimulatedService,
    call_id: &'a str,
    /// Requests on the call before this index are no longer waited for.
    cursor: usize,
    /// Participant ids by the label their `join` step gave them.
    participants: HashMap<String, String>,
}

impl Play<'_> {
    /// The requests Graph received on the call, in order.
    fn requests(&self) -> Vec<RecordedRequest> {
        requests_on(&self.service.sim.requests(), self.call_id)
    }

    async fn step(&mut self, step: &Step) -> Result<String, String> {
        let sim = &self.service.sim;
        let acts = !matches!(
            step,
            Step::Wait(_)
                | Step::WaitFor { .. }
                | Step::TransferTarget { .. }
                | Step::StopResponding
        );
        if acts && sim.call_state(self.call_id).is_none() {
            return Err("the call is already over: the other side cannot act on it".into());
        }
        let detail = match step {
            Step::Wait(duration) => {
                tokio::time::sleep(*duration).await;
                String::new()
            }
            Step::WaitFor { kind, timeout } => return self.wait_for(kind, *timeout).await,
            Step::Press(tones) => {
                let heard = self
                    .requests()
                    .iter()
                    .any(|r| request_kind(&r.method, &r.path) == Some("subscribeToTone"));
                for tone in tones {
                    sim.press(self.call_id, *tone);
                }
                if heard {
                    String::new()
                } else {
                    "not heard: the bot has not subscribed to tones on this call".into()
                }
            }
            Step::HangUp => {
                sim.remote_hang_up(self.call_id);
                String::new()
            }
            Step::Join { who, label } => {
                let id = sim.participant_joins(self.call_id, who.clone());
                self.participants.insert(label.clone(), id.clone());
                format!("participant id {id}")
            }
            Step::Leave(label) => {
                sim.participant_leaves(self.call_id, &self.participants[label]);
                String::new()
            }
            Step::Mute(label) | Step::Unmute(label) => {
                let muted = matches!(step, Step::Mute(_));
                sim.participant_mutes(self.call_id, &self.participants[label], muted);
                String::new()
            }
            Step::TransferTarget { answers } => {
                sim.set_transfers_succeed(*answers);
                String::new()
            }
            Step::StopResponding => "the other side does nothing more".into(),
        };
        if acts {
            // Requests made before this action cannot be its answer.
            self.cursor = self.requests().len();
        }
        Ok(detail)
    }

    async fn wait_for(&mut self, kind: &str, timeout: Duration) -> Result<String, String> {
        let sim = &self.service.sim;
        let cursor = self.cursor;
        let found = sim
            .wait_until(timeout, || {
                self.requests()
                    .into_iter()
                    .enumerate()
                    .skip(cursor)
                    .find(|(_, r)| request_kind(&r.method, &r.path) == Some(kind))
            })
            .await;
        match found {
            Some((index, request)) => {
                self.cursor = index + 1;
                Ok(format!(
                    "{} {} => {}",
                    request.method, request.path, request.status
                ))
            }
            None => {
                let since: Vec<&str> = self
                    .requests()
                    .iter()
                    .skip(cursor)
                    .filter_map(|r| request_kind(&r.method, &r.path))
                    .collect();
                let since = if since.is_empty() {
                    "none".to_string()
                } else {
                    since.join(", ")
                };
                Err(format!(
                    "no {kind} request on the call within {} ms (requests since the previous step: {since})",
                    timeout.as_millis()
                ))
            }
        }
    }
}

/// The requests about `call_id`, in the order Graph received them.
pub(crate) fn requests_on(requests: &[RecordedRequest], call_id: &str) -> Vec<RecordedRequest> {
    let prefix = format!("/communications/calls/{call_id}");
    requests
        .iter()
        .filter(|r| {
            r.path
                .split_once(&prefix)
                .is_some_and(|(_, rest)| rest.is_empty() || rest.starts_with('/'))
        })
        .cloned()
        .collect()
}
