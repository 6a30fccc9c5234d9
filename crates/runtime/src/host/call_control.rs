//! `call-control` (wit/call-control.wit): each function becomes a [`CallAction`] that passes
//! the plugin's policy and goes to the [`callhost_call::CallControl`] of the event.

use crate::bindings::call_control::{
    self as cc, AnswerOptions as WitAnswerOptions, Invitee, JoinRequest, PlaceCallRequest,
    RecordOptions, RejectReason, TransferRequest,
};
use crate::bindings::types::{CallError as WitCallError, Identity, MediaPrompt, Tone};
use crate::convert;
use crate::event_ctx::EventCtx;
use callhost_call::{ActionOutput, AnswerOptions, CallAction, CallError};

type Outcome<T> = wasmtime::Result<Result<T, WitCallError>>;

impl EventCtx {
    async fn act(&mut self, action: CallAction) -> Outcome<ActionOutput> {
        Ok(self.perform(action).await?.map_err(convert::call_error))
    }

    async fn act_done(&mut self, action: CallAction) -> Outcome<()> {
        Ok(self.act(action).await?.map(|_| ()))
    }

    async fn act_id(&mut self, action: CallAction) -> Outcome<String> {
        Ok(self
            .act(action)
            .await?
            .and_then(|output| match output.id() {
                Some(id) => Ok(id.to_owned()),
                None => Err(convert::call_error(CallError::Other(
                    "Graph returned no id for this request".into(),
                ))),
            }))
    }
}

fn prompts(list: Vec<MediaPrompt>) -> Vec<callhost_call::MediaPrompt> {
    list.into_iter().map(convert::prompt_from_wit).collect()
}

impl cc::Host for EventCtx {
    async fn answer(&mut self, call_id: String, options: WitAnswerOptions) -> Outcome<()> {
        let options = AnswerOptions {
            modalities: options
                .modalities
                .into_iter()
                .map(convert::modality_from_wit)
                .collect(),
            prefetch: prompts(options.prefetch),
        };
        self.act_done(CallAction::Answer { call_id, options }).await
    }

    async fn reject(&mut self, call_id: String, reason: RejectReason) -> Outcome<()> {
        let reason = convert::reject_reason(reason);
        self.act_done(CallAction::Reject { call_id, reason }).await
    }

    async fn redirect(
        &mut self,
        call_id: String,
        targets: Vec<Identity>,
        timeout_seconds: Option<u32>,
    ) -> Outcome<()> {
        let targets = targets
            .into_iter()
            .map(convert::identity_from_wit)
            .collect();
        self.act_done(CallAction::Redirect {
            call_id,
            targets,
            timeout_seconds,
        })
        .await
    }

    async fn transfer(&mut self, call_id: String, request: TransferRequest) -> Outcome<()> {
        let request = convert::transfer_request(request);
        self.act_done(CallAction::Transfer { call_id, request })
            .await
    }

    async fn hang_up(&mut self, call_id: String) -> Outcome<()> {
        self.act_done(CallAction::HangUp { call_id }).await
    }

    async fn join_meeting(&mut self, request: JoinRequest) -> Outcome<String> {
        self.act_id(CallAction::JoinMeeting(convert::join_request(request)))
            .await
    }

    async fn place_call(&mut self, request: PlaceCallRequest) -> Outcome<String> {
        self.act_id(CallAction::PlaceCall(convert::place_call_request(request)))
            .await
    }

    async fn play_prompt(
        &mut self,
        call_id: String,
        list: Vec<MediaPrompt>,
        client_context: Option<String>,
    ) -> Outcome<String> {
        let prompts = prompts(list);
        self.act_id(CallAction::PlayPrompt {
            call_id,
            prompts,
            client_context,
        })
        .await
    }

    async fn record_response(
        &mut self,
        call_id: String,
        options: RecordOptions,
    ) -> Outcome<String> {
        let options = convert::record_options(options);
        self.act_id(CallAction::RecordResponse { call_id, options })
            .await
    }

    async fn subscribe_to_tone(
        &mut self,
        call_id: String,
        client_context: Option<String>,
    ) -> Outcome<()> {
        self.act_done(CallAction::SubscribeToTone {
            call_id,
            client_context,
        })
        .await
    }

    async fn send_dtmf_tones(
        &mut self,
        call_id: String,
        tones: Vec<Tone>,
        delay_between_tones_ms: Option<u32>,
        client_context: Option<String>,
    ) -> Outcome<String> {
        let tones = tones.into_iter().map(convert::tone_from_wit).collect();
        self.act_id(CallAction::SendDtmfTones {
            call_id,
            tones,
            delay_between_tones_ms,
            client_context,
        })
        .await
    }

    async fn cancel_media_processing(
        &mut self,
        call_id: String,
        client_context: Option<String>,
    ) -> Outcome<()> {
        self.act_done(CallAction::CancelMediaProcessing {
            call_id,
            client_context,
        })
        .await
    }

    async fn mute(&mut self, call_id: String, client_context: Option<String>) -> Outcome<()> {
        self.act_done(CallAction::Mute {
            call_id,
            client_context,
        })
        .await
    }

    async fn unmute(&mut self, call_id: String, client_context: Option<String>) -> Outcome<()> {
        self.act_done(CallAction::Unmute {
            call_id,
            client_context,
        })
        .await
    }

    async fn mute_participant(
        &mut self,
        call_id: String,
        participant_id: String,
        client_context: Option<String>,
    ) -> Outcome<String> {
        self.act_id(CallAction::MuteParticipant {
            call_id,
            participant_id,
            client_context,
        })
        .await
    }

    async fn invite_participants(
        &mut self,
        call_id: String,
        participants: Vec<Invitee>,
        client_context: Option<String>,
    ) -> Outcome<String> {
        let participants = participants.into_iter().map(convert::invitee).collect();
        self.act_id(CallAction::InviteParticipants {
            call_id,
            participants,
            client_context,
        })
        .await
    }

    async fn start_hold_music(
        &mut self,
        call_id: String,
        participant_id: String,
        custom_prompt: Option<MediaPrompt>,
        client_context: Option<String>,
    ) -> Outcome<String> {
        let custom_prompt = custom_prompt.map(convert::prompt_from_wit);
        self.act_id(CallAction::StartHoldMusic {
            call_id,
            participant_id,
            custom_prompt,
            client_context,
        })
        .await
    }

    async fn stop_hold_music(
        &mut self,
        call_id: String,
        participant_id: String,
        client_context: Option<String>,
    ) -> Outcome<String> {
        self.act_id(CallAction::StopHoldMusic {
            call_id,
            participant_id,
            client_context,
        })
        .await
    }
}
