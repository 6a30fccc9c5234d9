//! What a workflow asks of a call: one [`CallAction`] per call-control function.

use serde::{Deserialize, Serialize};

use super::action_kind::{ActionKind, Returns};
use super::event::{OperationCompleted, OperationKind};
use super::identity::{Identity, MediaPrompt, Modality, Tone};

/// How to answer an incoming call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerOptions {
    pub modalities: Vec<Modality>,
    pub prefetch: Vec<MediaPrompt>,
}

/// Why a call is rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RejectReason {
    None,
    Busy,
    Forbidden,
}

impl RejectReason {
    /// The Graph enum value; Graph's examples send lower case.
    pub fn as_graph(self) -> &'static str {
        match self {
            RejectReason::None => "none",
            RejectReason::Busy => "busy",
            RejectReason::Forbidden => "forbidden",
        }
    }
}

/// The participant moved out of a group call by a transfer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transferee {
    pub identity: Identity,
    pub participant_id: String,
}

/// A blind or consultative transfer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferRequest {
    pub target: Identity,
    pub replaces_call_id: Option<String>,
    pub transferee: Option<Transferee>,
}

/// Which meeting to join.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum MeetingRef {
    JoinUrl(String),
    JoinMeetingId {
        join_meeting_id: String,
        passcode: Option<String>,
    },
}

/// Join a Teams meeting as the bot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinMeeting {
    pub meeting: MeetingRef,
    pub tenant_id: Option<String>,
    pub display_name: Option<String>,
}

/// Place a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlaceCall {
    pub targets: Vec<Identity>,
    pub tenant_id: Option<String>,
    pub subject: Option<String>,
    pub source_application_instance: Option<Identity>,
}

/// Options of `record-response`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RecordOptions {
    pub prompts: Vec<MediaPrompt>,
    pub barge_in_allowed: bool,
    pub initial_silence_timeout_seconds: Option<u32>,
    pub max_silence_timeout_seconds: Option<u32>,
    pub max_record_duration_seconds: Option<u32>,
    pub play_beep: bool,
    pub stop_tones: Vec<String>,
    pub client_context: Option<String>,
}

/// Someone to invite into a group call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitee {
    pub identity: Identity,
    pub replaces_call_id: Option<String>,
    pub participant_id: Option<String>,
}

/// One call-control request of a workflow. Variants that act on an existing call carry its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum CallAction {
    Answer {
        call_id: String,
        options: AnswerOptions,
    },
    Reject {
        call_id: String,
        reason: RejectReason,
    },
    Redirect {
        call_id: String,
        targets: Vec<Identity>,
        timeout_seconds: Option<u32>,
    },
    Transfer {
        call_id: String,
        request: TransferRequest,
    },
    HangUp {
        call_id: String,
    },
    JoinMeeting(JoinMeeting),
    PlaceCall(PlaceCall),
    PlayPrompt {
        call_id: String,
        prompts: Vec<MediaPrompt>,
        client_context: Option<String>,
    },
    RecordResponse {
        call_id: String,
        options: RecordOptions,
    },
    SubscribeToTone {
        call_id: String,
        client_context: Option<String>,
    },
    SendDtmfTones {
        call_id: String,
        tones: Vec<Tone>,
        delay_between_tones_ms: Option<u32>,
        client_context: Option<String>,
    },
    CancelMediaProcessing {
        call_id: String,
        client_context: Option<String>,
    },
    Mute {
        call_id: String,
        client_context: Option<String>,
    },
    Unmute {
        call_id: String,
        client_context: Option<String>,
    },
    MuteParticipant {
        call_id: String,
        participant_id: String,
        client_context: Option<String>,
    },
    InviteParticipants {
        call_id: String,
        participants: Vec<Invitee>,
        client_context: Option<String>,
    },
    StartHoldMusic {
        call_id: String,
        participant_id: String,
        custom_prompt: Option<MediaPrompt>,
        client_context: Option<String>,
    },
    StopHoldMusic {
        call_id: String,
        participant_id: String,
        client_context: Option<String>,
    },
    /// Not a plugin function: the host keeps established calls alive every 15 minutes.
    KeepAlive {
        call_id: String,
    },
}

impl CallAction {
    /// The call acted on; `None` for actions that create a call.
    pub fn call_id(&self) -> Option<&str> {
        use CallAction::*;
        match self {
            Answer { call_id, .. }
            | Reject { call_id, .. }
            | Redirect { call_id, .. }
            | Transfer { call_id, .. }
            | HangUp { call_id }
            | PlayPrompt { call_id, .. }
            | RecordResponse { call_id, .. }
            | SubscribeToTone { call_id, .. }
            | SendDtmfTones { call_id, .. }
            | CancelMediaProcessing { call_id, .. }
            | Mute { call_id, .. }
            | Unmute { call_id, .. }
            | MuteParticipant { call_id, .. }
            | InviteParticipants { call_id, .. }
            | StartHoldMusic { call_id, .. }
            | StopHoldMusic { call_id, .. }
            | KeepAlive { call_id } => Some(call_id),
            JoinMeeting(_) | PlaceCall(_) => None,
        }
    }

    /// The request's `clientContext`, for the actions that carry one.
    pub fn client_context_mut(&mut self) -> Option<&mut Option<String>> {
        use CallAction::*;
        match self {
            PlayPrompt { client_context, .. }
            | SubscribeToTone { client_context, .. }
            | SendDtmfTones { client_context, .. }
            | CancelMediaProcessing { client_context, .. }
            | Mute { client_context, .. }
            | Unmute { client_context, .. }
            | MuteParticipant { client_context, .. }
            | InviteParticipants { client_context, .. }
            | StartHoldMusic { client_context, .. }
            | StopHoldMusic { client_context, .. } => Some(client_context),
            RecordResponse { options, .. } => Some(&mut options.client_context),
            Answer { .. }
            | Reject { .. }
            | Redirect { .. }
            | Transfer { .. }
            | HangUp { .. }
            | JoinMeeting(_)
            | PlaceCall(_)
            | KeepAlive { .. } => None,
        }
    }

    /// Which call-control function this is; its row in [`ActionKind`] says the rest.
    pub fn kind(&self) -> ActionKind {
        use CallAction::*;
        match self {
            Answer { .. } => ActionKind::Answer,
            Reject { .. } => ActionKind::Reject,
            Redirect { .. } => ActionKind::Redirect,
            Transfer { .. } => ActionKind::Transfer,
            HangUp { .. } => ActionKind::HangUp,
            JoinMeeting(_) => ActionKind::JoinMeeting,
            PlaceCall(_) => ActionKind::PlaceCall,
            PlayPrompt { .. } => ActionKind::PlayPrompt,
            RecordResponse { .. } => ActionKind::RecordResponse,
            SubscribeToTone { .. } => ActionKind::SubscribeToTone,
            SendDtmfTones { .. } => ActionKind::SendDtmfTones,
            CancelMediaProcessing { .. } => ActionKind::CancelMediaProcessing,
            Mute { .. } => ActionKind::Mute,
            Unmute { .. } => ActionKind::Unmute,
            MuteParticipant { .. } => ActionKind::MuteParticipant,
            InviteParticipants { .. } => ActionKind::InviteParticipants,
            StartHoldMusic { .. } => ActionKind::StartHoldMusic,
            StopHoldMusic { .. } => ActionKind::StopHoldMusic,
            KeepAlive { .. } => ActionKind::KeepAlive,
        }
    }

    /// The WIT function name, as used in capability policies and logs.
    pub fn name(&self) -> &'static str {
        self.kind().name()
    }

    /// The kind of the long-running operation the action starts; `None` for actions that start
    /// none the workflow is given an id for.
    pub fn operation_kind(&self) -> Option<OperationKind> {
        match self.kind().returns() {
            Returns::OperationId(kind) => Some(kind),
            Returns::Nothing | Returns::CallId => None,
        }
    }

    /// Whether repeating the request after a lost response is harmless; see
    /// [`ActionKind::is_idempotent`].
    pub fn is_idempotent(&self) -> bool {
        self.kind().is_idempotent()
    }

    /// The identities this action would reach (targets of transfers, redirects, invites and
    /// placed calls); used by capability policies.
    pub fn targets(&self) -> Vec<&Identity> {
        match self {
            CallAction::Redirect { targets, .. } => targets.iter().collect(),
            CallAction::Transfer { request, .. } => vec![&request.target],
            CallAction::PlaceCall(p) => p.targets.iter().collect(),
            CallAction::InviteParticipants { participants, .. } => {
                participants.iter().map(|p| &p.identity).collect()
            }
            // Listed one by one: a new function that reaches someone must say whom.
            CallAction::Answer { .. }
            | CallAction::Reject { .. }
            | CallAction::HangUp { .. }
            | CallAction::JoinMeeting(_)
            | CallAction::PlayPrompt { .. }
            | CallAction::RecordResponse { .. }
            | CallAction::SubscribeToTone { .. }
            | CallAction::SendDtmfTones { .. }
            | CallAction::CancelMediaProcessing { .. }
            | CallAction::Mute { .. }
            | CallAction::Unmute { .. }
            | CallAction::MuteParticipant { .. }
            | CallAction::StartHoldMusic { .. }
            | CallAction::StopHoldMusic { .. }
            | CallAction::KeepAlive { .. } => Vec::new(),
        }
    }
}

/// What a successful action returns to the workflow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActionOutput {
    /// Nothing to return (answer, reject, hang-up, …).
    Done,
    /// The id of a call the action created (join-meeting, place-call).
    CallId(String),
    /// The id of a long-running operation (play-prompt, record-response, …); its completion
    /// arrives later as a notification.
    OperationId(String),
    /// A long-running operation that Graph reported as completed in its answer: no
    /// notification follows, so the host delivers this completion itself. The workflow gets
    /// the operation's id.
    Finished(OperationCompleted),
}

impl ActionOutput {
    /// The id the workflow gets: of the created call or of the operation.
    pub fn id(&self) -> Option<&str> {
        match self {
            ActionOutput::Done => None,
            ActionOutput::CallId(id) | ActionOutput::OperationId(id) => Some(id),
            ActionOutput::Finished(op) => Some(&op.operation_id),
        }
    }
}
