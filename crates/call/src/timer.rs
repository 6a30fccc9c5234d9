//! Waiting in a workflow: the timers of a call and the collection of key presses built on
//! them. What an event asks for is a [`TimerRequest`]; the host carries it out when the event
//! returned, and delivers a [`TimerFired`] or a [`TonesCollected`] event later.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::identity::{MediaPrompt, ResultInfo, Tone};

/// Timers a call may have pending at once.
pub const MAX_TIMERS_PER_CALL: usize = 16;
/// The shortest and the longest delay of a timer.
pub const MIN_TIMER_DELAY: Duration = Duration::from_millis(100);
pub const MAX_TIMER_DELAY: Duration = Duration::from_secs(24 * 3600);
/// The longest timer name, in bytes.
pub const MAX_TIMER_NAME_BYTES: usize = 64;
/// The largest payload of a timer, in bytes.
pub const MAX_TIMER_PAYLOAD_BYTES: usize = 4096;
/// Names of this prefix belong to the host.
pub const HOST_TIMER_PREFIX: char = '#';

/// What an event asked of its call's timers and tone collection, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TimerRequest {
    /// Fire `name` after `delay`, replacing a pending timer of that name.
    Set {
        name: String,
        delay_ms: u64,
        payload: Option<String>,
    },
    Cancel {
        name: String,
    },
    /// Start collecting key presses, replacing a collection in progress.
    Collect(CollectTones),
    /// Stop the collection in progress, without an event.
    StopCollecting,
}

/// Why a timer name, delay or payload is refused; `None` when it is fine.
pub fn timer_problem(name: &str, delay_ms: u64, payload: Option<&str>) -> Option<String> {
    if name.is_empty() || name.len() > MAX_TIMER_NAME_BYTES {
        return Some(format!(
            "a timer name is 1 to {MAX_TIMER_NAME_BYTES} bytes; `{name}` is {}",
            name.len()
        ));
    }
    if name.starts_with(HOST_TIMER_PREFIX) {
        return Some(format!(
            "timer names starting with `{HOST_TIMER_PREFIX}` belong to callhost: `{name}`"
        ));
    }
    let (min, max) = (MIN_TIMER_DELAY.as_millis(), MAX_TIMER_DELAY.as_millis());
    if u128::from(delay_ms) < min || u128::from(delay_ms) > max {
        return Some(format!(
            "a timer's delay is {min} ms to {max} ms; {delay_ms} ms was asked"
        ));
    }
    if let Some(payload) = payload
        && payload.len() > MAX_TIMER_PAYLOAD_BYTES
    {
        return Some(format!(
            "a timer's payload is at most {MAX_TIMER_PAYLOAD_BYTES} bytes; {} were given",
            payload.len()
        ));
    }
    None
}

/// How to collect key presses: a prompt, then keys until a limit ends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectTones {
    pub prompts: Vec<MediaPrompt>,
    pub max_digits: u32,
    pub first_digit_timeout_ms: u32,
    pub inter_digit_timeout_ms: u32,
    pub terminators: Vec<Tone>,
    pub tries: u32,
    pub client_context: Option<String>,
}

/// The limits of [`CollectTones`].
pub const MAX_COLLECT_DIGITS: u32 = 64;
pub const MAX_COLLECT_TRIES: u32 = 10;
pub const MAX_COLLECT_PROMPTS: usize = 20;
pub const MIN_COLLECT_TIMEOUT_MS: u32 = 100;
pub const MAX_COLLECT_TIMEOUT_MS: u32 = 600_000;

impl CollectTones {
    /// Why the options are refused, naming the option and its limits; `None` when fine.
    pub fn problem(&self) -> Option<String> {
        if self.max_digits == 0 || self.max_digits > MAX_COLLECT_DIGITS {
            return Some(format!(
                "max-digits is 1 to {MAX_COLLECT_DIGITS}; {} was given",
                self.max_digits
            ));
        }
        if self.tries == 0 || self.tries > MAX_COLLECT_TRIES {
            return Some(format!(
                "tries is 1 to {MAX_COLLECT_TRIES}; {} was given",
                self.tries
            ));
        }
        if self.prompts.len() > MAX_COLLECT_PROMPTS {
            return Some(format!(
                "at most {MAX_COLLECT_PROMPTS} prompts; {} were given",
                self.prompts.len()
            ));
        }
        let timeouts = [
            ("first-digit-timeout-ms", self.first_digit_timeout_ms),
            ("inter-digit-timeout-ms", self.inter_digit_timeout_ms),
        ];
        for (option, ms) in timeouts {
            if !(MIN_COLLECT_TIMEOUT_MS..=MAX_COLLECT_TIMEOUT_MS).contains(&ms) {
                return Some(format!(
                    "{option} is {MIN_COLLECT_TIMEOUT_MS} to {MAX_COLLECT_TIMEOUT_MS}; {ms} was given"
                ));
            }
        }
        None
    }
}

/// A timer of the call fired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimerFired {
    pub name: String,
    pub payload: Option<String>,
    /// How long after it was due it was delivered.
    pub late_ms: u64,
}

/// Why a tone collection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CollectEnd {
    Complete,
    Terminator,
    Timeout,
    InterDigitTimeout,
    TriesExhausted,
    Failed,
}

impl CollectEnd {
    pub fn as_str(self) -> &'static str {
        match self {
            CollectEnd::Complete => "complete",
            CollectEnd::Terminator => "terminator",
            CollectEnd::Timeout => "timeout",
            CollectEnd::InterDigitTimeout => "inter-digit-timeout",
            CollectEnd::TriesExhausted => "tries-exhausted",
            CollectEnd::Failed => "failed",
        }
    }
}

/// The end of a tone collection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TonesCollected {
    /// The keys pressed, as characters ([`Tone::as_char`]).
    pub digits: String,
    pub reason: CollectEnd,
    pub terminator: Option<Tone>,
    pub tries: u32,
    pub client_context: Option<String>,
    pub result: Option<ResultInfo>,
}
