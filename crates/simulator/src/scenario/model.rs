//! A validated scenario: the call, the other side's steps, and the expectations.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use super::fake_http::FakeOrigin;
use crate::SimulatorSettings;
use callhost::call::{Identity, IdentityKind, MeetingRef, RejectReason, Tone};

/// One scenario, as read from its file.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub name: String,
    pub description: Option<String>,
    /// The plugin the scenario is written for, by its name under `target/plugins/`.
    pub workflow: Option<String>,
    /// How long to wait, after the steps, for the call to end.
    pub end_timeout: Duration,
    pub simulator: SimulatorOptions,
    pub call: CallSetup,
    pub steps: Vec<Step>,
    pub expect: Expectations,
    /// Services faked for the plugin's HTTP requests.
    pub http: Vec<FakeOrigin>,
}

/// How the simulated Graph behaves in the scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimulatorOptions {
    pub media: Duration,
    pub notification_delay: Duration,
    pub transfers_succeed: bool,
}

impl Default for SimulatorOptions {
    fn default() -> Self {
        let defaults = SimulatorSettings::default();
        Self {
            media: defaults.media_duration,
            notification_delay: defaults.notification_delay,
            transfers_succeed: defaults.transfers_succeed,
        }
    }
}

impl SimulatorOptions {
    pub fn settings(&self) -> SimulatorSettings {
        SimulatorSettings {
            media_duration: self.media,
            notification_delay: self.notification_delay,
            transfers_succeed: self.transfers_succeed,
            ..SimulatorSettings::default()
        }
    }
}

/// How the call starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallSetup {
    /// `caller` calls `callee` (the bot when `None`).
    Incoming {
        caller: Identity,
        callee: Option<Identity>,
    },
    /// The bot joins the meeting through the admin path, for the plugin under test.
    JoinMeeting(MeetingRef),
}

/// One action of the other side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Wait(Duration),
    /// Wait for a request of this kind on the call.
    WaitFor {
        kind: String,
        timeout: Duration,
    },
    Press(Vec<Tone>),
    HangUp,
    Join {
        who: Identity,
        label: String,
    },
    Leave(String),
    Mute(String),
    Unmute(String),
    TransferTarget {
        answers: bool,
    },
    StopResponding,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Wait(d) => write!(f, "wait {} ms", d.as_millis()),
            Step::WaitFor { kind, timeout } => {
                write!(f, "wait_for {kind} ({} ms)", timeout.as_millis())
            }
            Step::Press(tones) => {
                let keys: String = tones.iter().map(|t| t.as_char()).collect();
                write!(f, "press {keys:?}")
            }
            Step::HangUp => write!(f, "hang_up"),
            Step::Join { who, label } => write!(f, "join {} as {label}", identity_text(who)),
            Step::Leave(label) => write!(f, "leave {label}"),
            Step::Mute(label) => write!(f, "mute {label}"),
            Step::Unmute(label) => write!(f, "unmute {label}"),
            Step::TransferTarget { answers: true } => write!(f, "transfer_target answers"),
            Step::TransferTarget { answers: false } => write!(f, "transfer_target declines"),
            Step::StopResponding => write!(f, "stop_responding"),
        }
    }
}

/// What the bot is expected to have done; `None` and empty are not checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expectations {
    pub answered: Option<bool>,
    pub answered_within: Option<Duration>,
    /// Prompt URIs, each played by some playPrompt.
    pub played: Vec<String>,
    pub transferred_to: Option<Identity>,
    pub redirected_to: Option<Identity>,
    pub rejected: Option<RejectReason>,
    pub hung_up: Option<bool>,
    pub ended: Option<EndedWith>,
    pub fallback: Option<bool>,
    /// Exact numbers of requests, by kind.
    pub requests: BTreeMap<String, usize>,
    /// HTTP requests the plugin sent, each as `METHOD URL` (the URL without its query).
    pub fetched: Vec<String>,
    /// The exact number of HTTP requests the plugin sent.
    pub http_requests: Option<usize>,
}

/// The result the call is expected to end with; `None` parts match anything.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EndedWith {
    pub code: Option<i64>,
    pub subcode: Option<i64>,
}

/// Every problem found in a scenario file, each naming where it is.
#[derive(Debug, thiserror::Error)]
#[error("invalid scenario {origin}:\n{}", problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
pub struct ScenarioError {
    /// The file, or what the text came from.
    pub origin: String,
    pub problems: Vec<String>,
}

/// `user:<id>` and the like, as scenario files write identities.
pub(crate) fn identity_text(identity: &Identity) -> String {
    format!("{}:{}", identity.kind.as_str(), identity.id)
}

/// The key of an identity kind in Graph's `identitySet`.
pub(crate) fn identity_set_key(kind: IdentityKind) -> &'static str {
    kind.identity_set_key().unwrap_or("device")
}
