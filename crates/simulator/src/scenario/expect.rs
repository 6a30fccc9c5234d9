//! Checks a scenario's expectations against the call's timeline, one result per expectation.

use std::time::Duration;

use serde_json::Value;

use super::model::{Expectations, identity_set_key, identity_text};
use super::report::{StepResult, StepStatus};
use super::requests::request_kind;
use callhost::call::GraphExchange;
use callhost::call::Identity;
use callhost::journal::{JournalRecord, Timeline};

/// What became of the call.
pub(super) struct ObservedCall<'a> {
    pub timeline: Option<&'a Timeline>,
    /// Whether the call ended before the scenario's end timeout.
    pub ended: bool,
    pub end_timeout: Duration,
}

impl ObservedCall<'_> {
    /// The requests on the call, with when they were sent, by kind.
    fn requests(&self, kind: &str) -> Vec<(Duration, &GraphExchange)> {
        self.timeline
            .into_iter()
            .flat_map(Timeline::graph_requests)
            .filter(|(_, r)| request_kind(&r.method, &r.path) == Some(kind))
            .collect()
    }

    fn bodies(&self, kind: &str) -> Vec<&Value> {
        self.requests(kind)
            .into_iter()
            .filter_map(|(_, r)| r.body.as_ref())
            .collect()
    }

    /// The `resultInfo` of the call's final notification (`None` inside when it had none).
    fn end_result(&self) -> Option<Option<&Value>> {
        let timeline = self.timeline?;
        timeline.entries.iter().rev().find_map(|e| match &e.record {
            JournalRecord::Notification { body } => {
                let entry = body.pointer("/value/0")?;
                let url = entry.get("resourceUrl").and_then(Value::as_str)?;
                let on_call = url
                    .rsplit_once("/calls/")
                    .is_some_and(|(_, id)| !id.contains('/'));
                let deleted = entry.get("changeType").and_then(Value::as_str) == Some("deleted");
                (on_call && deleted).then(|| entry.pointer("/resourceData/resultInfo"))
            }
            _ => None,
        })
    }
}

fn result(key: &str, passed: bool, detail: String) -> StepResult {
    let status = if passed {
        StepStatus::Passed
    } else {
        StepStatus::Failed
    };
    StepResult::new(format!("expect.{key}"), status, detail)
}

/// Whether an `identitySet` in a request body names `who`.
fn names(set: &Value, who: &Identity) -> bool {
    set.get(identity_set_key(who.kind))
        .and_then(|i| i.get("id"))
        .and_then(Value::as_str)
        .is_some_and(|id| id.eq_ignore_ascii_case(&who.id))
}

fn listed<'a>(values: impl Iterator<Item = &'a str>) -> String {
    let list: Vec<&str> = values.collect();
    if list.is_empty() {
        "none".into()
    } else {
        list.join(", ")
    }
}

pub(super) fn check(expect: &Expectations, call: &ObservedCall) -> Vec<StepResult> {
    let mut results = Vec::new();
    let answers = call.requests("answer");
    if let Some(answered) = expect.answered {
        let detail = format!("{} answer request(s)", answers.len());
        let did = !answers.is_empty();
        results.push(result("answered", answered == did, detail));
    }
    if let Some(limit) = expect.answered_within {
        let (passed, detail) = match answers.first() {
            Some((at, _)) => (
                *at <= limit,
                format!("answered {} ms after the incoming call", at.as_millis()),
            ),
            None => (false, "the bot never answered".into()),
        };
        results.push(result("answered_within_ms", passed, detail));
    }
    if !expect.played.is_empty() {
        let played: Vec<&str> = call
            .bodies("playPrompt")
            .into_iter()
            .filter_map(|b| b.get("prompts").and_then(Value::as_array))
            .flatten()
            .filter_map(|p| p.pointer("/mediaInfo/uri").and_then(Value::as_str))
            .collect();
        for uri in &expect.played {
            let passed = played.contains(&uri.as_str());
            let detail = format!("played: {}", listed(played.iter().copied()));
            results.push(result(&format!("played {uri}"), passed, detail));
        }
    }
    if let Some(target) = &expect.transferred_to {
        let bodies = call.bodies("transfer");
        let passed = bodies.iter().any(|b| {
            b.pointer("/transferTarget/identity")
                .is_some_and(|set| names(set, target))
        });
        let detail = format!("{} transfer request(s)", bodies.len());
        results.push(result(
            &format!("transferred_to {}", identity_text(target)),
            passed,
            detail,
        ));
    }
    if let Some(target) = &expect.redirected_to {
        let bodies = call.bodies("redirect");
        let passed = bodies.iter().any(|b| {
            b.get("targets")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .any(|t| t.get("identity").is_some_and(|set| names(set, target)))
        });
        let detail = format!("{} redirect request(s)", bodies.len());
        results.push(result(
            &format!("redirected_to {}", identity_text(target)),
            passed,
            detail,
        ));
    }
    if let Some(reason) = expect.rejected {
        let bodies = call.bodies("reject");
        let reasons = bodies
            .iter()
            .map(|b| b.get("reason").and_then(Value::as_str).unwrap_or("(none)"));
        let passed = bodies
            .iter()
            .any(|b| b.get("reason").and_then(Value::as_str) == Some(reason.as_graph()));
        let detail = format!("rejected with: {}", listed(reasons));
        results.push(result(
            &format!("rejected {}", reason.as_graph()),
            passed,
            detail,
        ));
    }
    if let Some(hung_up) = expect.hung_up {
        let count = call.requests("hangUp").len();
        let detail = format!("{count} hang-up request(s)");
        results.push(result("hung_up", hung_up == (count > 0), detail));
    }
    if let Some(ended) = expect.ended {
        results.push(match (call.ended, call.end_result()) {
            (true, Some(info)) => {
                let number = |key: &str| info.and_then(|i| i.get(key)).and_then(Value::as_i64);
                let (code, subcode) = (number("code"), number("subcode"));
                let message = info
                    .and_then(|i| i.get("message"))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let passed = ended.code.is_none_or(|c| Some(c) == code)
                    && ended.subcode.is_none_or(|s| Some(s) == subcode);
                let shown = |n: Option<i64>| n.map_or("-".to_string(), |n| n.to_string());
                let detail = match info {
                    Some(_) => format!("ended with {}/{} {message}", shown(code), shown(subcode)),
                    None => "ended, with no resultInfo".to_string(),
                };
                result("ended", passed, detail.trim_end().to_string())
            }
            _ => result(
                "ended",
                false,
                format!(
                    "the call did not end within {} ms of the last step",
                    call.end_timeout.as_millis()
                ),
            ),
        });
    }
    if let Some(expected) = expect.fallback {
        let fallbacks: Vec<String> = call
            .timeline
            .into_iter()
            .flat_map(|t| &t.entries)
            .filter_map(|e| match &e.record {
                JournalRecord::Fallback { fallback, reason } => {
                    Some(format!("{fallback} ({reason})"))
                }
                _ => None,
            })
            .collect();
        let detail = format!(
            "fallback used: {}",
            listed(fallbacks.iter().map(String::as_str))
        );
        let used = !fallbacks.is_empty();
        results.push(result("fallback", expected == used, detail));
    }
    let fetched: Vec<String> = call
        .timeline
        .into_iter()
        .flat_map(Timeline::http_requests)
        .map(|(_, r)| {
            let status = r.status.map_or("no answer".into(), |s| s.to_string());
            format!("{} {} => {status}", r.method, r.url)
        })
        .collect();
    for request in &expect.fetched {
        let passed = fetched
            .iter()
            .any(|f| f == request || f.starts_with(&format!("{request} =>")));
        let detail = format!(
            "HTTP requests: {}",
            listed(fetched.iter().map(String::as_str))
        );
        results.push(result(&format!("fetched {request}"), passed, detail));
    }
    if let Some(expected) = expect.http_requests {
        let count = fetched.len();
        let detail = format!("{count} HTTP request(s), expected {expected}");
        results.push(result("http_requests", count == expected, detail));
    }
    for (kind, expected) in &expect.requests {
        let count = call.requests(kind).len();
        let detail = format!("{count} {kind} request(s), expected {expected}");
        results.push(result(
            &format!("requests.{kind}"),
            count == *expected,
            detail,
        ));
    }
    results
}
