//! Tone collection (`call-control.collect-tones`): a prompt, key presses within timeouts,
//! tries after silences, ending in one `tones-collected` event. A state machine of its own,
//! fed by the call's tones, its prompt's completion and a host timer; the worker carries out
//! what it asks for ([`Step`]) and stores it with each handled marker, so a collection goes on
//! after a restart.

use serde::{Deserialize, Serialize};

use crate::call::{
    CollectEnd, CollectTones, MediaPrompt, OperationCompleted, OperationStatus, ResultInfo, Tone,
    TonesCollected,
};

/// The client context of the collection's prompts and tone subscription.
pub(crate) const COLLECT_CONTEXT: &str = "callhost:collect-tones";
/// The host timer of the collection's timeouts.
pub(crate) const COLLECT_TIMER: &str = "#collect-tones";
/// The key of the collection in the call's host state scope.
pub(crate) const COLLECT_KEY: &str = "collect-tones";

/// What the collection needs done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// Subscribe to the call's tones.
    Subscribe,
    /// Play the prompts; report the operation with [`Collecting::prompt_started`].
    Play(Vec<MediaPrompt>),
    /// Stop the prompt playing (the caller pressed a key over it).
    StopPrompt,
    /// Arm the collection's timer for this many milliseconds, replacing it.
    Wait(u32),
    /// Cancel the collection's timer.
    StopWaiting,
    /// The collection is over: deliver this to the workflow.
    Done(TonesCollected),
}

/// A collection in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Collecting {
    options: CollectTones,
    digits: String,
    /// The prompts offered so far.
    tries: u32,
    /// The prompt playing: its operation id once Graph gave it.
    playing: Option<Playing>,
    /// Whether it has begun: a collection asked for before the call is established begins
    /// when it is.
    begun: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Playing {
    operation_id: Option<String>,
}

impl Collecting {
    /// A collection that has not begun.
    pub(crate) fn new(options: CollectTones) -> Self {
        Self {
            options,
            digits: String::new(),
            tries: 0,
            playing: None,
            begun: false,
        }
    }

    /// Starts a collection at once ([`Collecting::begin`]).
    #[cfg(test)]
    pub(crate) fn start(options: CollectTones) -> (Self, Vec<Step>) {
        let mut collecting = Self::new(options);
        let steps = collecting.begin();
        (collecting, steps)
    }

    pub(crate) fn has_begun(&self) -> bool {
        self.begun
    }

    /// Begins: subscribe, then the prompt (or the first-digit timeout at once).
    pub(crate) fn begin(&mut self) -> Vec<Step> {
        self.begun = true;
        let mut steps = vec![Step::Subscribe];
        steps.extend(self.offer());
        steps
    }

    /// Offers the prompt once more.
    fn offer(&mut self) -> Vec<Step> {
        self.tries += 1;
        if self.options.prompts.is_empty() {
            return vec![Step::Wait(self.options.first_digit_timeout_ms)];
        }
        self.playing = Some(Playing { operation_id: None });
        vec![Step::StopWaiting, Step::Play(self.options.prompts.clone())]
    }

    /// The prompt asked for was started as `operation_id` (`None`: Graph played it to its
    /// end in its answer).
    pub(crate) fn prompt_started(&mut self, operation_id: Option<String>) -> Vec<Step> {
        match (operation_id, &mut self.playing) {
            (Some(id), Some(playing)) => {
                playing.operation_id = Some(id);
                Vec::new()
            }
            (None, Some(_)) => self.prompt_over(),
            (_, None) => Vec::new(),
        }
    }

    /// The prompt could not be started: the collection fails.
    pub(crate) fn prompt_failed(&mut self, why: String) -> Vec<Step> {
        let result = ResultInfo {
            code: 500,
            subcode: 0,
            message: Some(why),
        };
        self.end(CollectEnd::Failed, None, Some(result))
    }

    /// Whether `completed` is the completion of this collection's prompt.
    pub(crate) fn is_its_prompt(&self, completed: &OperationCompleted) -> bool {
        let own_id = self
            .playing
            .as_ref()
            .and_then(|p| p.operation_id.as_deref());
        own_id.is_some_and(|id| {
            crate::graph::id::id_key(id) == crate::graph::id::id_key(&completed.operation_id)
        })
    }

    /// The prompt's operation completed.
    pub(crate) fn prompt_completed(&mut self, completed: &OperationCompleted) -> Vec<Step> {
        if !self.is_its_prompt(completed) {
            return Vec::new();
        }
        let cancelled = completed
            .result
            .as_ref()
            .is_some_and(|r| r.code == 400 && r.subcode == 8508);
        if completed.status == OperationStatus::Failed && !cancelled && self.digits.is_empty() {
            // The prompt could not be played: there is nothing to answer to.
            return self.end(CollectEnd::Failed, None, completed.result.clone());
        }
        self.prompt_over()
    }

    fn prompt_over(&mut self) -> Vec<Step> {
        self.playing = None;
        match self.digits.is_empty() {
            true => vec![Step::Wait(self.options.first_digit_timeout_ms)],
            // Pressed over the prompt: the inter-digit timer runs already.
            false => Vec::new(),
        }
    }

    /// The caller pressed `tone`.
    pub(crate) fn tone(&mut self, tone: Tone) -> Vec<Step> {
        let mut steps = Vec::new();
        if self.playing.take().is_some() {
            steps.push(Step::StopPrompt);
        }
        if self.options.terminators.contains(&tone) {
            steps.extend(self.end(CollectEnd::Terminator, Some(tone), None));
            return steps;
        }
        self.digits.push(tone.as_char());
        if self.digits.chars().count() >= self.options.max_digits as usize {
            steps.extend(self.end(CollectEnd::Complete, None, None));
            return steps;
        }
        steps.push(Step::Wait(self.options.inter_digit_timeout_ms));
        steps
    }

    /// The collection's timer fired.
    pub(crate) fn timed_out(&mut self) -> Vec<Step> {
        if !self.digits.is_empty() {
            return self.end(CollectEnd::InterDigitTimeout, None, None);
        }
        if self.tries < self.options.tries {
            return self.offer();
        }
        let reason = match self.options.tries {
            1 => CollectEnd::Timeout,
            _ => CollectEnd::TriesExhausted,
        };
        self.end(reason, None, None)
    }

    fn end(
        &mut self,
        reason: CollectEnd,
        terminator: Option<Tone>,
        result: Option<ResultInfo>,
    ) -> Vec<Step> {
        vec![
            Step::StopWaiting,
            Step::Done(TonesCollected {
                digits: std::mem::take(&mut self.digits),
                reason,
                terminator,
                tries: self.tries,
                client_context: self.options.client_context.clone(),
                result,
            }),
        ]
    }
}

#[cfg(test)]
mod tests;
