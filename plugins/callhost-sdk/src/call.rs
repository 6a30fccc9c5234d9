//! The call an event belongs to, and what a workflow can do to it.

use crate::bindings::callhost::workflow::call_control::{
    self, AnswerOptions, RejectReason, TransferRequest,
};
use crate::bindings::callhost::workflow::timers::{self, TimerError};
use crate::types::{CallContext, ChangeType, Modality};
use crate::{Error, Prompt, Result, Target};

/// The event's call: what callhost knows of it, and the call-control requests a workflow makes
/// most. A failed request is logged as a warning and comes back as an [`Error`] that names it,
/// ready to be returned with `?`. Everything else is in [`crate::call_control`].
#[derive(Debug, Clone)]
pub struct Call {
    context: CallContext,
    change_type: ChangeType,
    resource_url: String,
    raw: String,
}

impl Call {
    pub(crate) fn new(
        context: CallContext,
        change_type: ChangeType,
        resource_url: String,
        raw: String,
    ) -> Self {
        Self {
            context,
            change_type,
            resource_url,
            raw,
        }
    }

    /// The call's id, for the functions of [`crate::call_control`].
    pub fn id(&self) -> &str {
        &self.context.call_id
    }

    /// Direction, tenant, state after the event, the bot's participant id, …
    pub fn context(&self) -> &CallContext {
        &self.context
    }

    /// Graph's kind of change for the event's notification.
    pub fn change_type(&self) -> ChangeType {
        self.change_type
    }

    /// The Graph resource of the event, such as `/communications/calls/{id}/operations/{op}`.
    pub fn resource_url(&self) -> &str {
        &self.resource_url
    }

    /// The notification's `resourceData` JSON exactly as Graph sent it.
    pub fn raw_event(&self) -> &str {
        &self.raw
    }

    /// Answers with audio; Graph fetches the `prefetch` prompts now so they start without delay.
    pub fn answer(&self, prefetch: &[Prompt]) -> Result<()> {
        self.answer_with(&AnswerOptions {
            modalities: vec![Modality::Audio],
            prefetch: prefetch
                .iter()
                .map(|prompt| prompt.media().clone())
                .collect(),
        })
    }

    /// Answers with explicit options (video, data, …).
    pub fn answer_with(&self, options: &AnswerOptions) -> Result<()> {
        call_control::answer(self.id(), options)
            .map_err(|error| Error::call_failed("answer", &error))
    }

    /// Declines the call before it is answered.
    pub fn reject(&self, reason: RejectReason) -> Result<()> {
        call_control::reject(self.id(), reason)
            .map_err(|error| Error::call_failed("reject", &error))
    }

    /// Plays `prompt` and returns the operation id; `on_operation_completed` follows when it has
    /// played. The prompt's name is the playback's client context, so the completion says which
    /// prompt it was.
    pub fn play(&self, prompt: &Prompt) -> Result<String> {
        call_control::play_prompt(
            self.id(),
            std::slice::from_ref(prompt.media()),
            Some(prompt.name()),
        )
        .map_err(|error| Error::call_failed(&format!("play-prompt {}", prompt.name()), &error))
    }

    /// Blind transfer to `target`. Success ends the bot's leg of the call; a failed transfer
    /// brings the call back to `established` with a result.
    pub fn transfer(&self, target: &Target) -> Result<()> {
        let request = TransferRequest {
            target: target.identity().clone(),
            replaces_call_id: None,
            transferee: None,
        };
        call_control::transfer(self.id(), &request)
            .map_err(|error| Error::call_failed(&format!("transfer to {}", target.name()), &error))
    }

    /// Starts the caller's key presses arriving as `on_tone`.
    pub fn subscribe_to_tones(&self) -> Result<()> {
        call_control::subscribe_to_tone(self.id(), None)
            .map_err(|error| Error::call_failed("subscribe-to-tone", &error))
    }

    /// Wakes the workflow in `delay` with [`crate::Workflow::on_timer`], carrying `payload`.
    /// A pending timer of the same name is replaced. Takes effect when the event returns.
    pub fn set_timer(
        &self,
        name: &str,
        delay: std::time::Duration,
        payload: Option<&str>,
    ) -> Result<()> {
        let delay_ms = u32::try_from(delay.as_millis()).unwrap_or(u32::MAX);
        timers::set_timer(self.id(), name, delay_ms, payload)
            .map_err(|error| timer_failed(&format!("set-timer {name}"), &error))
    }

    /// Cancels the timer `name`; `true` when it was pending.
    pub fn cancel_timer(&self, name: &str) -> Result<bool> {
        timers::cancel_timer(self.id(), name)
            .map_err(|error| timer_failed(&format!("cancel-timer {name}"), &error))
    }

    /// Collects key presses as `collect` says; [`crate::Workflow::on_tones_collected`]
    /// follows with the digits and why the collection ended. Meanwhile the call's tones do
    /// not reach `on_tone`.
    pub fn collect_tones(&self, collect: &crate::Collect) -> Result<()> {
        call_control::collect_tones(self.id(), &collect.options())
            .map_err(|error| Error::call_failed("collect-tones", &error))
    }

    /// The bot leaves the call.
    pub fn hang_up(&self) -> Result<()> {
        call_control::hang_up(self.id()).map_err(|error| Error::call_failed("hang-up", &error))
    }
}

fn timer_failed(request: &str, error: &TimerError) -> Error {
    let why = match error {
        TimerError::InvalidArgument(text) => format!("invalid-argument: {text}"),
        TimerError::TooMany(limit) => format!("too-many: at most {limit} timers per call"),
        TimerError::NotFound => "not-found (not this event's call)".to_string(),
    };
    let message = format!("{request} failed: {why}");
    crate::log::warn(&message, &[]);
    Error::new(message)
}
