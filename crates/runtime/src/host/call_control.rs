//! `call-control` (wit/call-control.wit): each function becomes a [`CallAction`] that passes
//! the plugin's policy and goes to the [`CallControl`] of the event.

use crate::bindings::call_control::{
    self as cc, AnswerOptions as WitAnswerOptions, CollectOptions, Invitee, JoinRequest,
    PlaceCallRequest, RecordOptions, RejectReason, TransferRequest,
};
use crate::bindings::types::{self, CallError as WitCallError, Identity, MediaPrompt, Tone};
use crate::convert;
use crate::limits::{ActionBudget, HostCallBudget};
use crate::timers::{TimerRefusal, TimerTxn};
use callhost_call::policy::CapabilityPolicy;
use callhost_call::{
    ActionOrigin, ActionOutput, AnswerOptions, CallAction, CallControl, CallError, CollectTones,
};

/// How a call-control function fails: with a `call-error` the workflow sees, or with a trap
/// that stops the plugin (a limit of the event was hit).
#[derive(Debug)]
pub(crate) enum CallControlError {
    /// Returned to the workflow as its `call-error`.
    Call(CallError),
    /// Stops the plugin; classified into its outcome.
    Trap(wasmtime::Error),
}

impl From<CallError> for CallControlError {
    fn from(error: CallError) -> Self {
        CallControlError::Call(error)
    }
}

impl From<wasmtime::Error> for CallControlError {
    fn from(trap: wasmtime::Error) -> Self {
        CallControlError::Trap(trap)
    }
}

/// What the `call-control` interface acts on: the plugin's policy, the event's call control
/// and the budgets the actions count against.
pub(crate) struct CallControlCtx<'a> {
    pub plugin_id: &'a str,
    pub policy: &'a CapabilityPolicy,
    pub origin: &'a ActionOrigin,
    pub control: &'a dyn CallControl,
    pub host_calls: &'a mut HostCallBudget,
    pub actions: &'a mut ActionBudget,
    /// Where `collect-tones` goes: it starts when the event returns.
    pub timers: &'a mut TimerTxn,
}

impl CallControlCtx<'_> {
    /// Carries out a call-control action. Time spent waiting for it does not count against
    /// the plugin's compute deadline (no time in the host does).
    async fn perform(&mut self, action: CallAction) -> Result<ActionOutput, CallControlError> {
        self.host_calls.charge()?;
        self.actions.charge()?;
        if let Err(reason) = self.policy.check(&action) {
            self.actions.denied += 1;
            tracing::warn!(plugin = %self.plugin_id, call_id = %self.origin.call_id, action = action.name(), %reason, "call-control action denied by policy");
            return Err(CallError::NotPermitted(reason).into());
        }
        let result = self.control.execute(self.origin, action).await;
        Ok(result?)
    }
}

impl CallControlCtx<'_> {
    /// Checks `actions` against the policy without carrying them out: what a host helper
    /// will do for the plugin later.
    fn permit(&mut self, actions: &[CallAction]) -> Result<(), CallControlError> {
        self.host_calls.charge()?;
        self.actions.charge()?;
        for action in actions {
            if let Err(reason) = self.policy.check(action) {
                self.actions.denied += 1;
                tracing::warn!(plugin = %self.plugin_id, call_id = %self.origin.call_id, action = action.name(), %reason, "call-control action denied by policy");
                return Err(CallError::NotPermitted(reason).into());
            }
        }
        Ok(())
    }
}

fn refused(refusal: TimerRefusal) -> CallControlError {
    match refusal {
        TimerRefusal::Invalid(text) => CallError::InvalidArgument(text),
        TimerRefusal::TooMany(limit) => {
            CallError::InvalidArgument(format!("at most {limit} timers per call"))
        }
        TimerRefusal::NotFound => CallError::NotFound,
    }
    .into()
}

/// The id an action that creates a call or starts an operation returns to the workflow.
fn returned_id(output: ActionOutput) -> Result<String, CallControlError> {
    match output.id() {
        Some(id) => Ok(id.to_owned()),
        None => Err(CallError::Other("Graph returned no id for this request".into()).into()),
    }
}

fn prompts(list: Vec<MediaPrompt>) -> Vec<callhost_call::MediaPrompt> {
    list.into_iter().map(convert::prompt_from_wit).collect()
}

impl types::Host for CallControlCtx<'_> {
    fn convert_call_error(&mut self, error: CallControlError) -> wasmtime::Result<WitCallError> {
        match error {
            CallControlError::Call(error) => Ok(convert::call_error(error)),
            CallControlError::Trap(trap) => Err(trap),
        }
    }
}

impl cc::Host for CallControlCtx<'_> {
    async fn answer(
        &mut self,
        call_id: String,
        options: WitAnswerOptions,
    ) -> Result<(), CallControlError> {
        let options = AnswerOptions {
            modalities: options
                .modalities
                .into_iter()
                .map(convert::modality_from_wit)
                .collect(),
            prefetch: prompts(options.prefetch),
        };
        self.perform(CallAction::Answer { call_id, options })
            .await?;
        Ok(())
    }

    async fn reject(
        &mut self,
        call_id: String,
        reason: RejectReason,
    ) -> Result<(), CallControlError> {
        let reason = convert::reject_reason(reason);
        self.perform(CallAction::Reject { call_id, reason }).await?;
        Ok(())
    }

    async fn redirect(
        &mut self,
        call_id: String,
        targets: Vec<Identity>,
        timeout_seconds: Option<u32>,
    ) -> Result<(), CallControlError> {
        let targets = targets
            .into_iter()
            .map(convert::identity_from_wit)
            .collect();
        self.perform(CallAction::Redirect {
            call_id,
            targets,
            timeout_seconds,
        })
        .await?;
        Ok(())
    }

    async fn transfer(
        &mut self,
        call_id: String,
        request: TransferRequest,
    ) -> Result<(), CallControlError> {
        let request = convert::transfer_request(request);
        self.perform(CallAction::Transfer { call_id, request })
            .await?;
        Ok(())
    }

    async fn hang_up(&mut self, call_id: String) -> Result<(), CallControlError> {
        self.perform(CallAction::HangUp { call_id }).await?;
        Ok(())
    }

    async fn join_meeting(&mut self, request: JoinRequest) -> Result<String, CallControlError> {
        let request = convert::join_request(request);
        let output = self.perform(CallAction::JoinMeeting(request)).await?;
        returned_id(output)
    }

    async fn place_call(&mut self, request: PlaceCallRequest) -> Result<String, CallControlError> {
        let request = convert::place_call_request(request);
        let output = self.perform(CallAction::PlaceCall(request)).await?;
        returned_id(output)
    }

    async fn play_prompt(
        &mut self,
        call_id: String,
        list: Vec<MediaPrompt>,
        client_context: Option<String>,
    ) -> Result<String, CallControlError> {
        let prompts = prompts(list);
        let output = self
            .perform(CallAction::PlayPrompt {
                call_id,
                prompts,
                client_context,
            })
            .await?;
        returned_id(output)
    }

    async fn record_response(
        &mut self,
        call_id: String,
        options: RecordOptions,
    ) -> Result<String, CallControlError> {
        let options = convert::record_options(options);
        let output = self
            .perform(CallAction::RecordResponse { call_id, options })
            .await?;
        returned_id(output)
    }

    async fn subscribe_to_tone(
        &mut self,
        call_id: String,
        client_context: Option<String>,
    ) -> Result<(), CallControlError> {
        self.perform(CallAction::SubscribeToTone {
            call_id,
            client_context,
        })
        .await?;
        Ok(())
    }

    async fn collect_tones(
        &mut self,
        call_id: String,
        options: CollectOptions,
    ) -> Result<(), CallControlError> {
        let options = CollectTones {
            prompts: prompts(options.prompts),
            max_digits: options.max_digits,
            first_digit_timeout_ms: options.first_digit_timeout_ms,
            inter_digit_timeout_ms: options.inter_digit_timeout_ms,
            terminators: options
                .terminators
                .into_iter()
                .map(convert::tone_from_wit)
                .collect(),
            tries: options.tries,
            client_context: options.client_context,
        };
        let mut needs = vec![CallAction::SubscribeToTone {
            call_id: call_id.clone(),
            client_context: None,
        }];
        if !options.prompts.is_empty() {
            // The prompt, and stopping it when a key is pressed over it.
            needs.push(CallAction::PlayPrompt {
                call_id: call_id.clone(),
                prompts: options.prompts.clone(),
                client_context: None,
            });
            needs.push(CallAction::CancelMediaProcessing {
                call_id: call_id.clone(),
                client_context: None,
            });
        }
        self.permit(&needs)?;
        self.timers.collect(&call_id, options).map_err(refused)
    }

    async fn cancel_collect_tones(&mut self, call_id: String) -> Result<bool, CallControlError> {
        self.host_calls.charge()?;
        self.timers.stop_collecting(&call_id).map_err(refused)
    }

    async fn send_dtmf_tones(
        &mut self,
        call_id: String,
        tones: Vec<Tone>,
        delay_between_tones_ms: Option<u32>,
        client_context: Option<String>,
    ) -> Result<String, CallControlError> {
        let tones = tones.into_iter().map(convert::tone_from_wit).collect();
        let output = self
            .perform(CallAction::SendDtmfTones {
                call_id,
                tones,
                delay_between_tones_ms,
                client_context,
            })
            .await?;
        returned_id(output)
    }

    async fn cancel_media_processing(
        &mut self,
        call_id: String,
        client_context: Option<String>,
    ) -> Result<(), CallControlError> {
        self.perform(CallAction::CancelMediaProcessing {
            call_id,
            client_context,
        })
        .await?;
        Ok(())
    }

    async fn mute(
        &mut self,
        call_id: String,
        client_context: Option<String>,
    ) -> Result<(), CallControlError> {
        self.perform(CallAction::Mute {
            call_id,
            client_context,
        })
        .await?;
        Ok(())
    }

    async fn unmute(
        &mut self,
        call_id: String,
        client_context: Option<String>,
    ) -> Result<(), CallControlError> {
        self.perform(CallAction::Unmute {
            call_id,
            client_context,
        })
        .await?;
        Ok(())
    }

    async fn mute_participant(
        &mut self,
        call_id: String,
        participant_id: String,
        client_context: Option<String>,
    ) -> Result<String, CallControlError> {
        let output = self
            .perform(CallAction::MuteParticipant {
                call_id,
                participant_id,
                client_context,
            })
            .await?;
        returned_id(output)
    }

    async fn invite_participants(
        &mut self,
        call_id: String,
        participants: Vec<Invitee>,
        client_context: Option<String>,
    ) -> Result<String, CallControlError> {
        let participants = participants.into_iter().map(convert::invitee).collect();
        let output = self
            .perform(CallAction::InviteParticipants {
                call_id,
                participants,
                client_context,
            })
            .await?;
        returned_id(output)
    }

    async fn start_hold_music(
        &mut self,
        call_id: String,
        participant_id: String,
        custom_prompt: Option<MediaPrompt>,
        client_context: Option<String>,
    ) -> Result<String, CallControlError> {
        let custom_prompt = custom_prompt.map(convert::prompt_from_wit);
        let output = self
            .perform(CallAction::StartHoldMusic {
                call_id,
                participant_id,
                custom_prompt,
                client_context,
            })
            .await?;
        returned_id(output)
    }

    async fn stop_hold_music(
        &mut self,
        call_id: String,
        participant_id: String,
        client_context: Option<String>,
    ) -> Result<String, CallControlError> {
        let output = self
            .perform(CallAction::StopHoldMusic {
                call_id,
                participant_id,
                client_context,
            })
            .await?;
        returned_id(output)
    }
}

#[cfg(test)]
mod tests;
