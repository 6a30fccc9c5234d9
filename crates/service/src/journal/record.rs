//! The entries of a call's journal and its timeline, as the admin API serves them.

use std::time::Duration;

use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::call::{CallEventKind, GraphExchange, HttpExchange};
use crate::runtime::Outcome;

/// One thing that happened on a call.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum JournalRecord {
    /// A notification Graph posted about the call, as one `commsNotifications` document.
    Notification { body: Value },
    /// The plugin ran for one event.
    Invocation(InvocationRecord),
    /// A request to Graph about the call and its answer.
    GraphRequest(GraphExchange),
    /// An HTTP request the plugin sent while handling the call (outbound HTTP).
    HttpRequest(HttpExchange),
    /// The route's fallback took over an incoming call the plugin did not decide on.
    Fallback { fallback: String, reason: String },
    /// A timer of the call was set, cancelled or fired (`stale`: it fired after it was set
    /// again or cancelled, and nothing was delivered).
    Timer {
        timer: String,
        change: TimerChange,
        #[serde(rename = "delayMs", skip_serializing_if = "Option::is_none")]
        delay_ms: Option<u64>,
    },
}

/// What happened to a timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TimerChange {
    Set,
    Cancelled,
    Fired,
    Stale,
}

impl JournalRecord {
    /// About how many bytes the record keeps: the size of its JSON, plus a fixed overhead.
    pub fn weight(&self) -> usize {
        const OVERHEAD: usize = 128;
        OVERHEAD
            + match self {
                JournalRecord::Notification { body } => json_weight(body),
                JournalRecord::Invocation(invocation) => {
                    invocation.plugin.len() + invocation.version.len() + invocation.event.len() + 64
                }
                JournalRecord::GraphRequest(exchange) => {
                    exchange.origin.len()
                        + exchange.method.len()
                        + exchange.path.len()
                        + exchange.body.as_ref().map_or(0, json_weight)
                        + exchange.error.as_ref().map_or(0, String::len)
                }
                JournalRecord::HttpRequest(exchange) => {
                    exchange.method.len()
                        + exchange.url.len()
                        + exchange.error.as_ref().map_or(0, String::len)
                        + 48
                }
                JournalRecord::Fallback { fallback, reason } => fallback.len() + reason.len(),
                JournalRecord::Timer { timer, .. } => timer.len() + 32,
            }
    }
}

/// About the size of `value` as JSON text, counted without writing it.
fn json_weight(value: &Value) -> usize {
    match value {
        Value::Null | Value::Bool(_) => 5,
        Value::Number(_) => 12,
        Value::String(s) => s.len() + 2,
        Value::Array(items) => 2 + items.iter().map(|v| json_weight(v) + 1).sum::<usize>(),
        Value::Object(map) => {
            2 + map
                .iter()
                .map(|(k, v)| k.len() + 4 + json_weight(v))
                .sum::<usize>()
        }
    }
}

/// One plugin invocation.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InvocationRecord {
    pub plugin: String,
    /// The plugin version's short hash.
    pub version: String,
    /// The event delivered (`incoming-call`, `tone-received`, …).
    pub event: String,
    #[serde(rename = "durationMs", serialize_with = "millis")]
    pub duration: Duration,
    /// How it ended; a decision budget that ran out is a `timeout`.
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// One entry of a [`Timeline`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TimelineEntry {
    /// Since the call's first entry.
    #[serde(rename = "atMs", serialize_with = "millis")]
    pub at: Duration,
    #[serde(flatten)]
    pub record: JournalRecord,
}

/// Everything recorded for one call, in the order it started.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Timeline {
    pub call_id: String,
    /// Whether the call has ended.
    pub ended: bool,
    /// Entries over the per-call limit, counted but not kept.
    #[serde(skip_serializing_if = "is_zero")]
    pub dropped_entries: usize,
    pub entries: Vec<TimelineEntry>,
}

impl Timeline {
    /// The notifications, as the `commsNotifications` documents they arrived in.
    pub fn notifications(&self) -> Vec<Value> {
        self.entries
            .iter()
            .filter_map(|e| match &e.record {
                JournalRecord::Notification { body } => Some(body.clone()),
                _ => None,
            })
            .collect()
    }

    /// The Graph requests, with when they were sent.
    pub fn graph_requests(&self) -> impl Iterator<Item = (Duration, &GraphExchange)> {
        self.entries.iter().filter_map(|e| match &e.record {
            JournalRecord::GraphRequest(exchange) => Some((e.at, exchange)),
            _ => None,
        })
    }

    /// The HTTP requests the plugin sent, with when they started.
    pub fn http_requests(&self) -> impl Iterator<Item = (Duration, &HttpExchange)> {
        self.entries.iter().filter_map(|e| match &e.record {
            JournalRecord::HttpRequest(exchange) => Some((e.at, exchange)),
            _ => None,
        })
    }

    /// The plugin invocations.
    pub fn invocations(&self) -> impl Iterator<Item = &InvocationRecord> {
        self.entries.iter().filter_map(|e| match &e.record {
            JournalRecord::Invocation(invocation) => Some(invocation),
            _ => None,
        })
    }
}

/// The WIT name of an event's kind.
pub fn event_name(kind: &CallEventKind) -> &'static str {
    match kind {
        CallEventKind::IncomingCall(_) => "incoming-call",
        CallEventKind::StateChanged(_) => "state-changed",
        CallEventKind::ToneReceived(_) => "tone-received",
        CallEventKind::OperationCompleted(_) => "operation-completed",
        CallEventKind::ParticipantsChanged(_) => "participants-changed",
        CallEventKind::Other { .. } => "other",
        CallEventKind::TimerFired(_) => "timer-fired",
        CallEventKind::TonesCollected(_) => "tones-collected",
    }
}

fn millis<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(duration.as_millis() as u64)
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}
